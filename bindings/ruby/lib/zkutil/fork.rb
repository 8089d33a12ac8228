# frozen_string_literal: true

module Zkutil
  # After fork, in the child: handles made before it raise Zkutil::Forked
  # and are never freed there; new clients work (the library starts a new
  # runtime in the child).
  module ForkHook
    def _fork
      pid = super
      if pid.zero?
        Zkutil.forked!
        Interrupts.reset_after_fork
      end
      pid
    end
  end
  Process.singleton_class.prepend(ForkHook)
end
