# frozen_string_literal: true

module Zkutil
  # Every failure of a library call: `code` is the ZKU_E* number. Each code
  # has its own subclass (Zkutil::NoNode for ZKU_ENONODE, ...), named after
  # the table in lib/zkutil/generated.rb.
  class Error < StandardError
    attr_reader :code

    def initialize(message = nil, code = self.class::CODE)
      @code = code
      super(message || Native.zku_strerror(code.to_i))
    end

    CODE = nil

    def self.for_code(code)
      CLASSES.fetch(code, Error)
    end
  end

  classes = ERROR_CODES.to_h do |code, (name, _)|
    klass = Class.new(Error)
    klass.const_set(:CODE, code)
    const_set(name, klass)
    [code, klass]
  end
  Error::CLASSES = classes.freeze

  # Raised by a handle used in a child process after fork(): handles do not
  # survive fork. Its code is ZKU_EFORKED when the library defines it.
  Forked = Class.new(Error) { const_set(:CODE, Zkutil.const_defined?(:EFORKED) ? EFORKED : nil) } unless const_defined?(:Forked, false)

  # Runs the block with an error out-parameter; raises the matching Error
  # for a negative result, returns the result otherwise.
  def self.check
    err = FFI::MemoryPointer.new(:pointer)
    rc = yield err
    return rc if rc >= 0

    raise error_from(rc, err.read_pointer)
  end

  def self.error_from(rc, err)
    message = err.null? ? nil : Native.zku_error_message(err)
    Error.for_code(rc).new(message, rc)
  ensure
    Native.zku_error_free(err) unless err.null?
  end
end
