# frozen_string_literal: true

module Zkutil
  # The state notifications every stateful handle has in the C ABI, written
  # once: a class sets NATIVE to its C prefix (:zku_lock, :zku_fifo, ...)
  # and includes the modules its prefix has functions for.
  module Notifications
    # `<prefix>_fd` / `<prefix>_fd_drain`.
    module Io
      # An IO that becomes readable on every state change (readable once
      # after its creation), for IO.select or IO#wait_readable after
      # require "io/wait"; then call #drain. Owned by the handle: do not close it.
      def io
        @io ||= begin
          fd = FFI::MemoryPointer.new(:int)
          Zkutil.check { |err| Native.public_send(:"#{self.class::NATIVE}_fd", ptr, fd, err) }
          IO.for_fd(fd.get_int(0), autoclose: false)
        end
      end

      # Empties #io and returns the current state.
      def drain
        Native.public_send(:"#{self.class::NATIVE}_fd_drain", ptr)
      end
    end

    # `<prefix>_set_state_callback`.
    module StateBlock
      # Calls the block with (old, new) on every state change, on a library
      # thread; without a block removes it.
      def on_state(&block)
        user_data = block && callback_user_data(block)
        Zkutil.check do |err|
          Native.public_send(:"#{self.class::NATIVE}_set_state_callback", ptr, block && Callbacks::STATE, user_data, nil, err)
        end
        replace_callbacks(user_data)
        nil
      end
    end
  end
end
