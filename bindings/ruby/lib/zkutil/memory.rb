# frozen_string_literal: true

module Zkutil
  # Copies what the library returned into Ruby objects and frees it at once
  # (in `ensure`, so an exception cannot leak it): strings, buffers, lists.
  module Memory
    module_function

    def out_pointer
      FFI::MemoryPointer.new(:pointer)
    end

    # A `char **` result: the string (UTF-8), or nil for NULL.
    def take_string(out)
      take_c_string(out.read_pointer)
    end

    # A `char *` result: the string (UTF-8), or nil for NULL.
    def take_c_string(ptr)
      return nil if ptr.null?

      begin
        ptr.read_string.force_encoding(Encoding::UTF_8)
      ensure
        Native.zku_string_free(ptr)
      end
    end

    # A `zku_buf **` result: the bytes (binary String), or nil for NULL.
    def take_buf(out)
      buf = out.read_pointer
      return nil if buf.null?

      begin
        Native.zku_buf_data(buf).read_bytes(Native.zku_buf_len(buf))
      ensure
        Native.zku_buf_free(buf)
      end
    end

    # A `zku_strings **` result: an Array of Strings.
    def take_strings(out)
      list = out.read_pointer
      return [] if list.null?

      begin
        Array.new(Native.zku_strings_len(list)) { |i| Native.zku_strings_get(list, i).force_encoding(Encoding::UTF_8) }
      ensure
        Native.zku_strings_free(list)
      end
    end

    # A `zku_members **` result: a Hash of name => data (binary String), sorted by name.
    def take_members(out)
      list = out.read_pointer
      return {} if list.null?

      begin
        len = FFI::MemoryPointer.new(:size_t)
        Array.new(Native.zku_members_len(list)) do |i|
          data = Native.zku_members_data(list, i, len)
          [Native.zku_members_name(list, i).force_encoding(Encoding::UTF_8), data.read_bytes(len.read(:size_t))]
        end.to_h
      ensure
        Native.zku_members_free(list)
      end
    end

    # A `const char *const *` argument: the pointer array, kept alive by the
    # returned object until the call ends.
    def string_array(strings)
      parts = strings.map { |s| FFI::MemoryPointer.from_string(s.to_s) }
      array = FFI::MemoryPointer.new(:pointer, [parts.size, 1].max)
      array.write_array_of_pointer(parts)
      [array, parts]
    end

    # What zku_client_get_into writes for Client#get, one per fiber
    # (Interrupts::Caller#get_room), reused by its gets (allocating these
    # per call cost several µs per get: README, Ruby gem): the stat, up to
    # GET_ROOM bytes of data, the data's length, the `zku_buf *` of larger
    # data and the error out-parameter.
    GetRoom = Struct.new(:stat, :data, :len, :overflow, :err) do
      def self.make
        new(FFI::MemoryPointer.new(:uint8, Stat::SIZE), FFI::MemoryPointer.new(:uint8, GET_ROOM),
            FFI::MemoryPointer.new(:size_t), Memory.out_pointer, Memory.out_pointer)
      end

      # The Error of a failed call (its error object freed).
      def error(rc)
        Zkutil.error_from(rc, take_error)
      end

      # The larger data (a binary String), its zku_buf freed.
      def take_overflow
        Memory.take_buf(overflow)
      ensure
        overflow.put_pointer(0, nil)
      end

      # Frees what an interrupted call left: its error or larger data.
      def drop_outputs
        take_overflow
        error = take_error
        Native.zku_error_free(error) unless error.null?
      end

      # The error object the call wrote (maybe NULL), taken out of `err`.
      def take_error
        err.read_pointer
      ensure
        err.put_pointer(0, nil)
      end
    end
    GET_ROOM = 4096

    def bytes(data)
      data = data.to_s
      [data, data.bytesize]
    end
  end

  # A node's metadata (ZooKeeper's Stat): czxid, mzxid, ctime, mtime,
  # pzxid, version, cversion, aversion, ephemeral_owner, data_length and
  # num_children, read-only, compared by value. It keeps a copy of the
  # C struct's bytes and reads a field when asked: building eleven Ruby
  # values per call made a `get` several µs slower (README, Ruby gem).
  class Stat
    SIZE = Native::Stat.size
    MEMBERS = Native::Stat.members.freeze
    FORMATS = { 4 => "l", 8 => "q" }.freeze

    layout = Native::Stat.new.layout
    MEMBERS.each do |name|
      field = layout[name]
      class_eval("def #{name} = @bytes.unpack1(#{FORMATS.fetch(field.size).inspect}, offset: #{field.offset})", __FILE__, __LINE__)
    end

    # Copies a Native::Stat (or SIZE bytes at an FFI::Pointer).
    def self.from(native)
      new((native.is_a?(FFI::Struct) ? native.pointer : native).get_bytes(0, SIZE))
    end

    # `bytes`: a zku_stat's SIZE bytes, as the library wrote them; kept
    # (and frozen), not copied.
    def initialize(bytes)
      raise ArgumentError, "a Stat is #{SIZE} bytes, got #{bytes.bytesize}" unless bytes.bytesize == SIZE

      @bytes = bytes.freeze
    end

    def members = MEMBERS
    def to_a = MEMBERS.map { |m| public_send(m) }
    alias deconstruct to_a
    def to_h = MEMBERS.to_h { |m| [m, public_send(m)] }
    def deconstruct_keys(_keys) = to_h

    def [](member)
      name = member.is_a?(Integer) ? MEMBERS.fetch(member) : member.to_sym
      raise NameError, "no member '#{member}' in Zkutil::Stat" unless MEMBERS.include?(name)

      public_send(name)
    end

    def ==(other) = other.is_a?(Stat) && to_a == other.to_a
    alias eql? ==
    def hash = to_a.hash

    def inspect = "#<Zkutil::Stat #{MEMBERS.map { |m| "#{m}=#{public_send(m)}" }.join(', ')}>"
    alias to_s inspect
  end
end
