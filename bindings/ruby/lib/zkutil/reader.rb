# frozen_string_literal: true

module Zkutil
  # A cached reader of one node holding a JSON object (zku_reader). The
  # block, when given, gets (event, path, old_json, new_json, stat) for
  # every READER_EVENT_* on a library thread.
  class Reader < Handle
    include Notifications::Io # #io readable on every event; #drain returns READER_STATE_*
    FREE_ORDER = 0
    NATIVE = :zku_reader

    def initialize(client, path, timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil, &on_event)
      @client = client
      user_data = on_event && Callbacks.register(on_event)
      out = Memory.out_pointer
      created = lambda do
        super(out.read_pointer, :zku_reader_free)
        @callbacks << user_data if user_data
      end
      Zkutil.blocking(cancel, created) do |c, err|
        Native.zku_reader_new(client.ptr, path, on_event && Callbacks::READER, user_data, nil, timeout_ms, c, out, err)
      end
    rescue Exception # rubocop:disable Lint/RescueException -- on failure the block is ours to drop
      Callbacks.forget(user_data) if user_data && !@callbacks&.include?(user_data)
      raise
    end

    # The whole cached value as JSON text.
    def get
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_reader_get(ptr, out, nil, err) }
      Memory.take_string(out)
    end

    # One member by JSON Pointer ("/jobs/num") as JSON text.
    def [](pointer)
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_reader_get_pointer(ptr, pointer, out, err) }
      Memory.take_string(out)
    end

    # Waits for the next change: [old_json, new_json, Stat].
    def watch(timeout_ms: DEFAULT_TIMEOUT_MS, cancel: nil)
      old_json = Memory.out_pointer
      new_json = Memory.out_pointer
      stat = Native::Stat.new
      results = -> { [Memory.take_string(old_json), Memory.take_string(new_json), Stat.from(stat)] }
      Zkutil.blocking(cancel, results) do |c, err|
        Native.zku_reader_watch(ptr, timeout_ms, c, old_json, new_json, stat, err)
      end
    end

    # One of the READER_STATE_* constants.
    def state
      Native.zku_reader_state(ptr)
    end

    # Stops the reader (waits for a running callback to return).
    def close
      Native.zku_reader_close(ptr)
      nil
    end

    private

    # #free: a wait for the next event in another thread raises Zkutil::Closed.
    def end_calls
      Native.zku_reader_close(@pointer)
    end
  end
end
