# frozen_string_literal: true

module Zkutil
  @fork_generation = 0

  class << self
    # Bumped in the child after every fork (see lib/zkutil/fork.rb).
    attr_reader :fork_generation

    def forked!
      @fork_generation += 1
    end
  end

  # An object owning one library handle (an FFI::AutoPointer that frees it
  # when collected, or on #free). In a child process after fork the handle
  # belongs to the parent: using it raises Forked, and it is never freed
  # there (the parent's session is not the child's to close).
  class Handle
    # Handles not freed yet. At exit they are freed while Ruby's threads
    # still run (a finalizer freeing a client or reader after them would wait
    # forever for a state or reader block that can no longer run), handles
    # made from a client before the client.
    LIVE = ObjectSpace::WeakMap.new
    FREE_ORDER = 1

    at_exit { LIVE.keys.sort_by { |h| h.class::FREE_ORDER }.each(&:free) }

    def initialize(pointer, free_function)
      @generation = Zkutil.fork_generation
      @pointer = FFI::AutoPointer.new(pointer, Handle.releaser(free_function, @generation))
      @freed = false
      @callbacks = []
      LIVE[self] = true
    end

    def self.releaser(free_function, generation)
      ->(ptr) { Native.public_send(free_function, ptr) if Zkutil.fork_generation == generation }
    end

    # The live pointer, for calls. A blocking call that uses it is known to
    # #free, which waits for it. `me`: the calling fiber's
    # Interrupts::Caller when the caller has it at hand.
    def ptr(me = nil)
      generation = me ? me.generation : Zkutil.fork_generation
      raise Forked.new("#{self.class.name} was made before fork(): create a new one in this process") if @generation != generation
      raise Closed.new("#{self.class.name} was freed", Closed::CODE) if @freed

      Interrupts.uses(self, me)
      @pointer
    end

    def forked?
      @generation != Zkutil.fork_generation
    end

    # Frees the handle now (idempotent); later calls raise Zkutil::Closed.
    # The library's handle must not be freed during a call, so calls on it
    # in other threads end first: those the handle can end (#end_calls)
    # raise there, the others are waited for.
    def free
      return if @freed

      @freed = true
      if forked?
        @pointer.autorelease = false
      else
        end_calls if Interrupts.in_use?(self)
        Interrupts.wait_unused(self)
        @pointer.free
      end
      @callbacks.each { |user_data| Callbacks.forget(user_data) }
      nil
    end

    private

    # Ends calls in progress on the handle that could wait long (#free).
    def end_calls; end

    # Registers a block for this handle's callback; it is forgotten when
    # the callback is replaced (`replaced` the previous one) or the handle freed.
    def callback_user_data(block)
      user_data = Callbacks.register(block)
      @callbacks << user_data
      user_data
    end

    def replace_callbacks(keep)
      (@callbacks - [keep]).each { |user_data| Callbacks.forget(user_data) }
      @callbacks = [keep].compact
    end

    def freed?
      @freed
    end
  end
end
