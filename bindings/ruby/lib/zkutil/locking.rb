# frozen_string_literal: true

module Zkutil
  # What Lock and Fifo share (the same calls under their C prefix, NATIVE):
  # states and notifications, the fencing token, guarded writes. Calls
  # default to the handle's default timeout (LOCK_DEFAULT_TIMEOUT).
  module Locking
    include Notifications::Io
    include Notifications::StateBlock

    # Acquires, yields the fencing token, releases (also when the block raises).
    def synchronize(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      token = acquire(timeout_ms: timeout_ms, cancel: cancel)
      begin
        yield token
      ensure
        release
      end
    end

    # Deletes our node; Zkutil::LockLost when the lock had been lost.
    def release(timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      Zkutil.blocking(cancel) { |c, err| native(:release, ptr, timeout_ms, c, err) }
      nil
    end

    # One of the LOCK_* states.
    def state
      native(:get_state, ptr)
    end

    # The fencing token of the current acquisition; Zkutil::NotLocked when unlocked.
    def token
      out = FFI::MemoryPointer.new(:int64)
      Zkutil.check { |err| native(:token, ptr, out, err) }
      out.get_int64(0)
    end

    # Why the lock was lost, while LOCK_LOST; nil otherwise.
    def lost_reason
      Memory.take_c_string(native(:lost_reason, ptr))
    end

    def path
      native(:path, ptr).force_encoding(Encoding::UTF_8)
    end

    # Sets `path`'s data only while we hold the lock (one multi operation).
    def guarded_set(path, data, version: ANY_VERSION, timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      bytes, len = Memory.bytes(data)
      stat = Native::Stat.new
      Zkutil.blocking(cancel) { |c, err| native(:guarded_set, ptr, path, bytes, len, version, timeout_ms, c, stat, err) }
      Stat.from(stat)
    end

    def guarded_delete(path, version: ANY_VERSION, timeout_ms: LOCK_DEFAULT_TIMEOUT, cancel: nil)
      Zkutil.blocking(cancel) { |c, err| native(:guarded_delete, ptr, path, version, timeout_ms, c, err) }
      nil
    end

    private

    def native(name, *args)
      Native.public_send(:"#{self.class::NATIVE}_#{name}", *args)
    end
  end
end
