# frozen_string_literal: true

module Zkutil
  # The library's log messages (zku_set_log_callback), one per process.
  module Log
    FUNCTION = FFI::Function.new(:void, %i[pointer int32 pointer]) do |user_data, level, message|
      Callbacks.deliver(user_data, level, Callbacks.text(message))
    end

    @user_data = nil

    class << self
      # Sets (with a nil block, removes) the block; the previous one is forgotten.
      def set(level, block)
        user_data = block && Callbacks.register(block)
        begin
          Zkutil.check { |err| Native.zku_set_log_callback(level, block && FUNCTION, user_data, nil, err) }
        rescue Exception # rubocop:disable Lint/RescueException -- on failure the block is ours to drop
          Callbacks.forget(user_data) if user_data
          raise
        end
        Callbacks.forget(@user_data) if @user_data
        @user_data = user_data
      end
    end

    # Removed before the handles are freed at exit (at_exit runs in reverse
    # order, lib/zkutil/handle.rb's first): nothing calls into Ruby after it.
    at_exit { set(LOG_ERROR, nil) if @user_data }
  end

  class << self
    # Calls the block with (level, message) for every library message at
    # `level` (a LOG_* constant) or more important, on a library thread;
    # without a block removes it (messages then follow $ZKU_LOG to stderr).
    # Exceptions go to Zkutil.callback_error_handler.
    def on_log(level = LOG_INFO, &block)
      Log.set(level, block)
      nil
    end
  end
end
