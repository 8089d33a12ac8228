# frozen_string_literal: true

module Zkutil
  # Keeps one node at `path` holding `data` for as long as it lives
  # (zku_registration, docs/registration.md): created again after an
  # operator deletes it or the session expires, never overwriting a node it
  # did not create. States: REGISTRATION_ABSENT, _PRESENT, _CLOSED.
  class Registration < Handle
    include Notifications::Io
    include Notifications::StateBlock
    FREE_ORDER = 0
    NATIVE = :zku_registration

    # Waits up to timeout_ms for the first creation (returns ABSENT after
    # that, going on in the background). persistent: survives the session;
    # sequential: `path` is a name prefix (see #path); ttl_ms (persistent
    # only): the server deletes it after that long unchanged.
    def initialize(client, path, data = "", persistent: false, sequential: false, ttl_ms: 0,
                   timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      @client = client
      bytes, len = Memory.bytes(data)
      flags = (persistent ? REGISTRATION_PERSISTENT : 0) | (sequential ? REGISTRATION_SEQUENTIAL : 0)
      out = Memory.out_pointer
      Zkutil.blocking(cancel, -> { super(out.read_pointer, :zku_registration_free) }) do |c, err|
        Native.zku_registration_new(client.ptr, path, bytes, len, flags, ttl_ms, timeout_ms, c, out, err)
      end
    end

    # One of the REGISTRATION_* states.
    def state
      Native.zku_registration_get_state(ptr)
    end

    # The node's path (for a sequential node the server's name, new after
    # every re-creation); Zkutil::NoNode before a sequential node's first creation.
    def path
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_registration_path(ptr, out, err) }
      Memory.take_string(out)
    end

    # Why the node is absent, while REGISTRATION_ABSENT; nil otherwise.
    def absent_reason
      Memory.take_c_string(Native.zku_registration_absent_reason(ptr))
    end

    # Replaces the node's data (also for every later re-creation); while
    # absent returns at once.
    def set_data(data, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      bytes, len = Memory.bytes(data)
      Zkutil.blocking(cancel) { |c, err| Native.zku_registration_set_data(ptr, bytes, len, timeout_ms, c, err) }
      nil
    end

    # Stops keeping the node and deletes it if it is still ours (final).
    def close(timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      Zkutil.blocking(cancel) { |c, err| Native.zku_registration_close(ptr, timeout_ms, c, err) }
      nil
    end
  end
end
