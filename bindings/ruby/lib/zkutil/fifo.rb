# frozen_string_literal: true

module Zkutil
  # A sequential lock on lock_dir + name in Apache Curator's layouts
  # (zku_fifo, docs/fifo.md): each contender's node watches only the one
  # before it and the lock is granted in arrival order. `kind:` picks the
  # recipe: :mutex (InterProcessMutex), :leader (LeaderLatch: #acquire waits
  # to lead, #release resigns), :read or :write (the two sides of
  # InterProcessReadWriteLock; #read_of gives a write side's own reader).
  # Calls default to the handle's default timeout (LOCK_DEFAULT_TIMEOUT).
  class Fifo < Handle
    include Locking
    FREE_ORDER = 0
    NATIVE = :zku_fifo
    KINDS = { mutex: :zku_fifo_new, leader: :zku_fifo_new_leader, read: :zku_fifo_new_read,
              write: :zku_fifo_new_write }.freeze

    # A handle on a shared client. identifier: our node's data (nil: a new unique one).
    def initialize(client, name, kind: :mutex, identifier: nil, default_timeout_ms: LOCK_DEFAULT_TIMEOUT)
      create = KINDS.fetch(kind) { raise ArgumentError, "kind: one of #{KINDS.keys.inspect}, not #{kind.inspect}" }
      @client = client
      out = Memory.out_pointer
      Zkutil.check { |err| Native.public_send(create, client.ptr, name, identifier, default_timeout_ms, out, err) }
      super(out.read_pointer, :zku_fifo_free)
    end

    # The read side of this write side's lock that the write side's owner
    # may take while holding it (Curator's rule): released after the write
    # side, it is a downgrade. identifier: nil for the write side's.
    def read_of(identifier: nil, default_timeout_ms: LOCK_DEFAULT_TIMEOUT)
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_fifo_new_read_of(ptr, identifier, default_timeout_ms, out, err) }
      client = @client
      self.class.allocate.tap do |reader|
        reader.instance_variable_set(:@client, client)
        Handle.instance_method(:initialize).bind_call(reader, out.read_pointer, :zku_fifo_free)
      end
    end

    # Joins the queue and waits for our turn; returns the fencing token.
    def acquire(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      token = FFI::MemoryPointer.new(:int64)
      Zkutil.blocking(cancel) { |c, err| Native.zku_fifo_acquire(ptr, timeout_ms, c, token, err) }
      token.get_int64(0)
    end

    # One attempt that never waits behind another: [locked, token (0 when not)].
    def try_acquire(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      locked = FFI::MemoryPointer.new(:uint8)
      token = FFI::MemoryPointer.new(:int64)
      Zkutil.blocking(cancel, -> { [locked.get_uint8(0) != 0, token.get_int64(0)] }) do |c, err|
        Native.zku_fifo_try_acquire(ptr, timeout_ms, c, locked, token, err)
      end
    end

    # Makes acquires running on this handle, in any thread, raise
    # Zkutil::Cancelled promptly, leaving no node; later ones are not affected.
    def cancel
      Native.zku_fifo_cancel(ptr)
      nil
    end

    def locked?
      state == LOCK_HELD
    end

    # The contenders in queue order, the holder first: [[node name, identifier], ...].
    def contenders(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      names = Memory.out_pointer
      ids = Memory.out_pointer
      Zkutil.blocking(cancel, -> { Memory.take_strings(names).zip(Memory.take_strings(ids)) }) do |c, err|
        Native.zku_fifo_contenders(ptr, timeout_ms, c, names, ids, err)
      end
    end

    private

    # #free: acquires running in other threads raise Zkutil::Cancelled.
    def end_calls
      Native.zku_fifo_cancel(@pointer)
    end
  end
end
