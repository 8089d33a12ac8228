# frozen_string_literal: true

module Zkutil
  # A distributed lock on lock_dir + name (zku_lock; k3zkutil's ZKLock).
  # Lock calls default to the lock's default timeout (LOCK_DEFAULT_TIMEOUT).
  class Lock < Handle
    include Locking
    FREE_ORDER = 0
    NATIVE = :zku_lock
    # A lock on a shared client. identifier: nil for a new unique one;
    # persistent: the node survives the session.
    def initialize(client, name, identifier: nil, persistent: false, default_timeout_ms: LOCK_DEFAULT_TIMEOUT)
      @client = client
      out = Memory.out_pointer
      flags = persistent ? LOCK_PERSISTENT : 0
      Zkutil.check { |err| Native.zku_lock_new(client.ptr, name, identifier, flags, default_timeout_ms, out, err) }
      super(out.read_pointer, :zku_lock_free)
    end

    # A lock with its own client (connected from `config`, a Config or its
    # options), closed when the lock is freed. The block gets every state
    # change (old, new) on a library thread: nobody else watches that session.
    def self.open(name, config: nil, identifier: nil, persistent: false, default_timeout_ms: LOCK_DEFAULT_TIMEOUT,
                  cancel: nil, &on_state)
      raise ArgumentError, "Zkutil::Lock.open needs a block for the state changes" unless on_state

      allocate.tap do |lock|
        lock.send(:connect, name, Config.coerce(config), identifier, persistent, default_timeout_ms, cancel, on_state)
      end
    end

    # Acquires (waits for the holder up to timeout_ms); returns the fencing
    # token. With a block, yields (holder_data, version) each time the
    # holder changes while waiting; a truthy result stops (Zkutil::Aborted).
    def acquire(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil, &on_holder)
      token = FFI::MemoryPointer.new(:int64)
      if on_holder
        acquire_loop(timeout_ms, cancel, token, on_holder)
      else
        Zkutil.blocking(cancel) { |c, err| Native.zku_lock_acquire(ptr, timeout_ms, c, token, err) }
      end
      token.get_int64(0)
    end

    # One attempt that never waits: [locked, holder_data, version, token].
    def try_acquire(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      locked = FFI::MemoryPointer.new(:uint8)
      holder = Memory.out_pointer
      version = FFI::MemoryPointer.new(:int32)
      token = FFI::MemoryPointer.new(:int64)
      results = -> { [locked.get_uint8(0) != 0, Memory.take_buf(holder), version.get_int32(0), token.get_int64(0)] }
      Zkutil.blocking(cancel, results) do |c, err|
        Native.zku_lock_try_acquire(ptr, timeout_ms, c, locked, holder, version, token, err)
      end
    end

    # k3zkutil's try_release: [released, holder_data, version].
    def try_release(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      released = FFI::MemoryPointer.new(:uint8)
      holder = Memory.out_pointer
      version = FFI::MemoryPointer.new(:int32)
      results = -> { [released.get_uint8(0) != 0, Memory.take_buf(holder), version.get_int32(0)] }
      Zkutil.blocking(cancel, results) do |c, err|
        Native.zku_lock_try_release(ptr, timeout_ms, c, released, holder, version, err)
      end
    end

    def watch_delay_ms=(delay_ms)
      Zkutil.check { |err| Native.zku_lock_set_watch_delay(ptr, delay_ms, err) }
    end

    # Makes acquires blocked on this lock, in any thread, raise Zkutil::Cancelled.
    def cancel
      Native.zku_lock_cancel(ptr)
      nil
    end

    def locked?
      Native.zku_lock_is_locked(ptr)
    end

    def identifier
      Native.zku_lock_identifier(ptr).force_encoding(Encoding::UTF_8)
    end

    # Sets the node's "val" (JSON text) while held; returns the new version.
    def set_val(json, version: -1, timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      out = FFI::MemoryPointer.new(:int32)
      Zkutil.blocking(cancel) { |c, err| Native.zku_lock_set_val(ptr, json, version, timeout_ms, c, out, err) }
      out.get_int32(0)
    end

    # [val JSON text, version], whoever holds the lock.
    def get_val(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      out = Memory.out_pointer
      version = FFI::MemoryPointer.new(:int32)
      Zkutil.blocking(cancel, -> { [Memory.take_string(out), version.get_int32(0)] }) do |c, err|
        Native.zku_lock_get_val(ptr, timeout_ms, c, out, version, err)
      end
    end

    # The current holder: [identifier, node data, Stat (czxid: its token)].
    def holder(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      id = Memory.out_pointer
      data = Memory.out_pointer
      stat = Native::Stat.new
      Zkutil.blocking(cancel, -> { [Memory.take_string(id), Memory.take_buf(data), Stat.from(stat)] }) do |c, err|
        Native.zku_lock_holder(ptr, timeout_ms, c, id, data, stat, err)
      end
    end

    private

    # #free: acquires blocked in other threads raise Zkutil::Cancelled.
    def end_calls
      Native.zku_lock_cancel(@pointer)
    end

    def acquire_loop(timeout_ms, cancel, token, on_holder)
      sync = SyncCallback.new(1) { |holder, len, version| on_holder.call(holder.read_bytes(len), version) ? 1 : 0 }
      function = FFI::Function.new(:int, %i[pointer pointer size_t int32]) { |_, *args| sync.call(*args) }
      sync.around do
        Zkutil.blocking(cancel) do |c, err|
          Native.zku_lock_acquire_loop(ptr, timeout_ms, c, function, nil, token, err)
        end
      end
    end

    def connect(name, config, identifier, persistent, default_timeout_ms, cancel, on_state)
      user_data = Callbacks.register(on_state)
      out = Memory.out_pointer
      flags = persistent ? LOCK_PERSISTENT : 0
      created = lambda do
        Handle.instance_method(:initialize).bind_call(self, out.read_pointer, :zku_lock_free)
        @callbacks << user_data
      end
      Zkutil.blocking(cancel, created) do |c, err|
        Native.zku_lock_new_with_config(config&.ptr, name, identifier, flags, default_timeout_ms,
                                        Callbacks::STATE, user_data, nil, c, out, err)
      end
    rescue Exception # rubocop:disable Lint/RescueException -- on failure the block is ours to drop
      Callbacks.forget(user_data) unless @callbacks&.include?(user_data)
      raise
    end
  end
end
