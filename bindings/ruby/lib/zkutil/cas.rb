# frozen_string_literal: true

module Zkutil
  # A compare-and-swap handle (zku_cas): the last read of one node and the
  # version the next commit expects. Use from one thread at a time.
  class Cas < Handle
    FREE_ORDER = 0
    def self.flags(json, create, create_parents)
      (json ? CAS_JSON : 0) | (create ? CAS_CREATE : 0) | (create_parents ? CAS_CREATE | CAS_CREATE_PARENTS : 0)
    end

    # Runs a cas_update block for the C callback: the new value goes to
    # zku_cas_next_set, nil skips.
    def self.run_block(block, value, len, stat, next_value)
      current = value.read_bytes(len)
      new_value = block.call(current, stat.null? ? nil : Stat.from(Native::Stat.new(stat)))
      return CAS_SKIP if new_value.nil?

      bytes, size = Memory.bytes(new_value)
      Zkutil.check { |err| Native.zku_cas_next_set(next_value, bytes, size, err) }
      CAS_WRITE
    end

    def initialize(client, path, flags, initial, timeout_ms, cancel)
      @client = client
      init, init_len = initial.nil? ? [nil, 0] : Memory.bytes(initial)
      out = Memory.out_pointer
      Zkutil.blocking(cancel, -> { super(out.read_pointer, :zku_cas_free) }) do |c, err|
        Native.zku_cas_begin(client.ptr, path, flags, init, init_len, timeout_ms, c, out, err)
      end
    end

    # The current value (the initial one while the node does not exist).
    def value
      data = Memory.out_pointer
      len = FFI::MemoryPointer.new(:size_t)
      Zkutil.check { |err| Native.zku_cas_value(ptr, data, len, err) }
      data.read_pointer.read_bytes(len.read(:size_t))
    end

    def stat
      stat = Native::Stat.new
      Zkutil.check { |err| Native.zku_cas_stat(ptr, stat, err) }
      Stat.from(stat)
    end

    # The version the next commit expects (-1: it creates the node).
    def version
      Native.zku_cas_version(ptr)
    end

    def attempts
      Native.zku_cas_attempts(ptr)
    end

    # Writes `data` if the node is unchanged since the last read; Zkutil::BadVersion
    # on a conflict (then #reread), Zkutil::OutcomeUnknown (then #resolve).
    def commit(data, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      bytes, len = Memory.bytes(data)
      with_stat { |stat| Zkutil.blocking(cancel) { |c, err| Native.zku_cas_commit(ptr, bytes, len, timeout_ms, c, stat, err) } }
    end

    def commit_json(json, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      with_stat { |stat| Zkutil.blocking(cancel) { |c, err| Native.zku_cas_commit_json(ptr, json, timeout_ms, c, stat, err) } }
    end

    def reread(timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      Zkutil.blocking(cancel) { |c, err| Native.zku_cas_reread(ptr, timeout_ms, c, err) }
      self
    end

    def resolve(timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      with_stat { |stat| Zkutil.blocking(cancel) { |c, err| Native.zku_cas_resolve(ptr, timeout_ms, c, stat, err) } }
    end

    private

    def with_stat
      stat = Native::Stat.new
      yield stat
      Stat.from(stat)
    end
  end
end
