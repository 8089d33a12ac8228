# frozen_string_literal: true

module Zkutil
  @callback_error_handler = ->(error) { warn "zkutil: callback raised #{error.class}: #{error.message}" }

  class << self
    # Called with an exception raised by a block that runs on a library
    # thread (state, lock state and reader blocks), which has nobody to
    # raise it to. Default: a warning.
    attr_accessor :callback_error_handler
  end

  # Blocks registered with the library as callbacks. The library gets a
  # number as `user_data`; the block stays referenced here until the
  # callback is replaced or its handle freed (then the library will not call
  # it again). No `user_data_free` is given to the library: calling Ruby from
  # a library thread while a free waits for it is what deadlocks at exit.
  # Exceptions never cross the C frames: they are caught here.
  module Callbacks
    @mutex = Mutex.new
    @blocks = {}
    @next_id = 0

    class << self
      def register(block)
        @mutex.synchronize do
          @next_id += 1
          @blocks[@next_id] = block
          FFI::Pointer.new(@next_id)
        end
      end

      def forget(user_data)
        @mutex.synchronize { @blocks.delete(user_data.address) }
      end

      def deliver(user_data, *args)
        block = @mutex.synchronize { @blocks[user_data.address] }
        block&.call(*args)
      rescue Exception => e # rubocop:disable Lint/RescueException -- must not unwind into C
        report(e)
      end

      def report(error)
        Zkutil.callback_error_handler&.call(error)
      rescue Exception # rubocop:disable Lint/RescueException
        nil
      end
    end

    STATE = FFI::Function.new(:void, %i[pointer int32 int32]) do |user_data, old, new|
      deliver(user_data, old, new)
    end
    READER = FFI::Function.new(:void, %i[pointer int32 pointer pointer pointer pointer]) do |user_data, event, path, old, new, stat|
      deliver(user_data, event, Callbacks.text(path), Callbacks.text(old), Callbacks.text(new),
              stat.null? ? nil : Stat.from(Native::Stat.new(stat)))
    end

    def self.text(ptr)
      ptr.null? ? nil : ptr.read_string.force_encoding(Encoding::UTF_8)
    end
  end

  # A block called on the calling thread during one C call (CAS update,
  # acquire loop): an exception it raises is kept, the C call told to stop,
  # and the exception raised once the C call returned.
  class SyncCallback
    attr_reader :error

    def initialize(stop_value, &block)
      @stop_value = stop_value
      @block = block
    end

    def call(*args)
      @block.call(*args)
    rescue Exception => e # rubocop:disable Lint/RescueException -- must not unwind into C
      @error ||= e
      @stop_value
    end

    # Runs the C call (given the callback); re-raises the block's exception.
    def around
      yield
    ensure
      raise @error if @error
    end
  end
end
