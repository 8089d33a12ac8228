# frozen_string_literal: true

module Zkutil
  # A cancellation flag for blocking calls (zku_cancel): pass it as
  # `cancel:`; #cancel (from any thread) makes calls under it raise
  # Zkutil::Cancelled within 50 ms. Sticky: make a new one per operation.
  class Cancel < Handle
    FREE_ORDER = 2
    def initialize
      out = Memory.out_pointer
      Zkutil.check { |err| Native.zku_cancel_new(out, err) }
      super(out.read_pointer, :zku_cancel_free)
    end

    def cancel
      Native.zku_cancel_cancel(ptr)
      self
    end

    def cancelled?
      Native.zku_cancel_is_cancelled(ptr)
    end

    # While a call in another thread runs under it, the library's flag is
    # freed by the collector once that call is done, not now.
    def free
      return super unless Interrupts.in_use?(self)

      @freed = true
    end
  end

  # Makes blocking calls Timeout-friendly. Ruby cannot interrupt a C call:
  # Thread#raise (Timeout.timeout, Thread#kill) waits until it returns. So
  # every blocking call runs under a zku_cancel, and a watcher thread, while
  # such calls are running, looks every 5 ms for their threads having an
  # interrupt pending and cancels their call (it returns within 50 ms); the
  # interrupt is then raised as usual.
  #
  # Each fiber that makes calls has a Caller, registered once: its own
  # zku_cancel, reused by its calls until the watcher cancels it, and the
  # cancel of the call it runs. A call only sets and clears that field: no
  # lock and no allocation per call (they cost several µs per `get`:
  # README, Ruby gem). The watcher sleeps after a second without calls;
  # the next call wakes it.
  module Interrupts
    POLL_SECONDS = 0.005
    IDLE_POLLS = 200

    # thread and fiber: whose calls; cancel: the fiber's own zku_cancel;
    # running: the cancel of the call running now (nil: none); stale: the
    # watcher cancelled `cancel`, the next call makes a new one; using: the
    # Handles the running call uses (Handle#free waits for it); get_room:
    # the fiber's Memory::GetRoom, kept here to find both at once.
    Caller = Struct.new(:thread, :fiber, :generation, :cancel, :running, :stale, :using, :get_room)

    class << self
      # Yields the zku_cancel pointer to pass to the call: `cancel`'s, or
      # the calling fiber's own. Interrupts wait until the block is done,
      # so it can copy and free what the library returned first.
      def run(cancel = nil, &call)
        me = current
        Thread.handle_interrupt(Object => :never) { running(me, cancel, &call) }
      end

      # #run for a call whose outputs are all in memory the caller owns (an
      # interrupt may come as the call returns: the block's `rescue` frees
      # what it must). Cheaper: no interrupt mask. `me`: #current.
      def run_unmasked(me, cancel = nil, &call)
        running(me, cancel, &call)
      end

      # The calling fiber's Caller.
      def current
        me = Thread.current[:zkutil_caller]
        return me if me && me.generation == Zkutil.fork_generation

        me = Caller.new(Thread.current, Fiber.current, Zkutil.fork_generation, new_cancel, nil, false, [])
        @mutex.synchronize { @callers << me }
        Thread.current[:zkutil_caller] = me
      end

      # Notes that the calling fiber's running call, if any, uses `handle`
      # (Handle#ptr). `me`: the fiber's Caller, when known.
      def uses(handle, me = nil)
        me ||= Thread.current[:zkutil_caller]
        me.using << handle if me&.running
      end

      # Whether a call of another fiber uses `handle` now.
      def in_use?(handle)
        me = Thread.current[:zkutil_caller]
        @mutex.synchronize do
          @callers.any? { |c| !c.equal?(me) && c.running && c.using.include?(handle) }
        end
      end

      # Waits until no call of another fiber uses `handle` (the calling
      # fiber's own, from a block run during a call, cannot end first).
      def wait_unused(handle)
        sleep POLL_SECONDS while in_use?(handle)
      end

      # After fork only this thread exists: forget the parent's watcher and
      # callers (their cancels are the parent's).
      def reset_after_fork
        @mutex = Mutex.new
        @wakeup = ConditionVariable.new
        @callers = []
        @watcher = nil
        @sleeping = true
      end

      private

      def running(me, cancel)
        if me.stale
          me.cancel = new_cancel
          me.stale = false
        end
        raw = cancel ? cancel.ptr : me.cancel
        outer = me.running # a call made from a block run during a call
        used = me.using.size
        begin
          me.running = raw
          me.using << cancel if cancel
          # After setting `running`: the watcher, before it sleeps, looks
          # at every `running` after setting @sleeping (both under the GVL).
          wake if @sleeping
          yield raw
        ensure
          me.running = outer
          me.using.pop while me.using.size > used
        end
      end

      # A zku_cancel freed by the collector once nothing uses it (the
      # watcher may still hold one it replaced), never at exit, and never
      # in a child after fork (it is the parent's).
      def new_cancel
        out = Memory.out_pointer
        Zkutil.check { |err| Native.zku_cancel_new(out, err) }
        FFI::AutoPointer.new(out.read_pointer, Handle.releaser(:zku_cancel_free, Zkutil.fork_generation))
      end

      def wake
        @mutex.synchronize do
          @sleeping = false
          @watcher = start_watcher unless @watcher&.alive?
          @wakeup.signal
        end
      end

      def start_watcher
        Thread.new do
          Thread.current.name = "zkutil-interrupts"
          Thread.current.report_on_exception = false
          # A new thread inherits its creator's interrupt mask (:never here).
          Thread.handle_interrupt(Object => :immediate) { loop { watch } }
        end
      end

      # Polls until a second passes without a running call (forgetting
      # the callers of ended fibers every second), then sleeps until a call
      # wakes it.
      def watch
        idle = 0
        polls = 0
        while idle < IDLE_POLLS
          sleep POLL_SECONDS
          idle = cancel_interrupted ? 0 : idle + 1
          polls += 1
          @mutex.synchronize { forget_ended } if (polls % IDLE_POLLS).zero?
        end
        @mutex.synchronize do
          forget_ended
          @sleeping = true
          if @callers.any?(&:running)
            @sleeping = false
          else
            @wakeup.wait(@mutex) while @sleeping
          end
        end
      end

      def forget_ended
        @callers.select! { |c| c.thread.alive? && c.fiber.alive? }
      end

      # Cancels the calls of threads with an interrupt pending; tells
      # whether any call is running.
      def cancel_interrupted
        @mutex.synchronize do
          @callers.count do |c|
            raw = c.running or next false
            if c.thread.pending_interrupt?
              c.stale = true if raw.equal?(c.cancel)
              Native.zku_cancel_cancel(raw)
            end
            true
          end.positive?
        end
      end
    end

    reset_after_fork
  end
end
