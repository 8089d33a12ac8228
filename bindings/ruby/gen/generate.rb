# frozen_string_literal: true

# Writes lib/zkutil/generated.rb from include/zkutil.h: every ZKU_* constant,
# the error-code table, the structs, callback types and every function with
# the `blocking:` flag its doc tags give ("Blocking ..." => true, "Never
# blocks" => false; a function with neither tag is an error). Error class
# names are the core's `Code` names from src/error.rs (NoNode for
# ZKU_ENONODE); a code missing there gets its header name capitalized.
#
# Usage: ruby bindings/ruby/gen/generate.rb [--check]
#   --check: exit 1 when the committed file differs from what would be written.
module ZkutilGen
  # The header has something the generator does not understand.
  class GenError < StandardError; end

  ROOT = File.expand_path("../../..", __dir__)
  HEADER = File.join(ROOT, "include/zkutil.h")
  ERROR_RS = File.join(ROOT, "src/error.rs")
  OUTPUT = File.join(ROOT, "bindings/ruby/lib/zkutil/generated.rb")

  SCALARS = {
    "int32_t" => :int32, "uint32_t" => :uint32, "int64_t" => :int64,
    "uint64_t" => :uint64, "size_t" => :size_t, "bool" => :bool,
    "int" => :int, "void" => :void
  }.freeze

  module_function

  # [[doc, code], ...]: each top-level declaration with the /** */ doc above it.
  def declarations(text)
    out = []
    doc = nil
    lines = text.lines
    i = 0
    while i < lines.size
      line = lines[i]
      if line.start_with?("/**")
        body = []
        until lines[i].include?("*/")
          body << lines[i]
          i += 1
        end
        body << lines[i]
        doc = body.join.gsub(%r{^\s*/?\*+/?}, "").split.join(" ")
      elsif line.start_with?("/*")
        i += 1 until lines[i].include?("*/") # a plain comment
      elsif line.start_with?("typedef struct") && line.include?("{")
        code = +line
        code << lines[i += 1] until lines[i].start_with?("}")
        out << [doc, code]
        doc = nil
      elsif line.start_with?("#define ZKU_") || (line =~ /\S/ && !line.start_with?("#", "}", "extern"))
        out << [doc, line.strip]
        doc = nil
      end
      i += 1
    end
    out
  end

  def error_names
    enum = File.read(ERROR_RS)[/pub enum Code \{(.*?)\n\}/m, 1] or raise GenError, "no `enum Code` in #{ERROR_RS}"
    enum.scan(/^\s*(\w+) = (-?\d+),/).to_h { |name, value| [Integer(value), name] }
  end

  # The ffi type of a C parameter, field or result.
  def ffi_type(ctype, callbacks, role)
    t = ctype.sub(/\A(const\s+)?(struct\s+)?/, "").strip
    pointer = t.end_with?("*")
    base = t.delete("*").sub(/\bconst\b/, "").strip
    if !pointer
      return SCALARS[base] || (callbacks.include?(base) ? base.to_sym : (base.start_with?("zku_") ? base.to_sym : raise(GenError, "unknown type #{ctype}")))
    end
    single = t.count("*") == 1
    return :pointer if role == :callback_param # read with their lengths
    if single && base == "char" && ctype.start_with?("const")
      return :string # inputs and static results (never freed by the caller)
    end
    if single && base == "uint8_t" && ctype.start_with?("const") && role == :param
      return :buffer_in
    end
    :pointer
  end

  def split_params(list)
    return [] if list.strip == "void"
    list.split(",").map do |p|
      m = p.strip.match(/\A(.*?[\s*])(\w+)\z/) or raise GenError, "cannot parse parameter #{p}"
      [m[1].strip, m[2]]
    end
  end

  def generate
    decls = declarations(File.read(HEADER))
    names = error_names
    consts = []
    errors = []
    typedefs = []
    callbacks = {}
    structs = []
    functions = []
    decls.each do |doc, code|
      case code
      when /\A#define (ZKU_\w+) (.+)\z/
        name = Regexp.last_match(1)
        value = Regexp.last_match(2).strip
        next if name == "ZKUTIL_H"
        consts << [name.delete_prefix("ZKU_"), value]
        if name =~ /\AZKU_E[A-Z0-9]+\z/ && Integer(value, exception: false)&.negative?
          code = Integer(value)
          klass = names[code] || name.delete_prefix("ZKU_E").capitalize
          errors << [code, klass, doc.to_s]
        end
      when /\Atypedef struct (\w+) \1;\z/
        next
      when /\Atypedef (\w+) (zku_\w+);\z/
        typedefs << [Regexp.last_match(2), SCALARS.fetch(Regexp.last_match(1))]
      when /\Atypedef (\w+) \(\*(zku_\w+)\)\((.*)\);\z/
        ret = Regexp.last_match(1)
        name = Regexp.last_match(2)
        params = split_params(Regexp.last_match(3))
        callbacks[name] = [params.map { |t, _| ffi_type(t, callbacks, :callback_param) }, ffi_type(ret, callbacks, :result)]
      when /\Atypedef struct (\w+) \{/
        name = Regexp.last_match(1)
        fields = code.gsub(%r{/\*.*?\*/}m, "").scan(/^\s+([\w\s*]+?)\s*\b(\w+);/).map { |t, f| [f, ffi_type(t, callbacks, :field)] }
        structs << [name, fields]
      when /\A(.+?)\b(zku_\w+)\((.*)\);\z/
        ret = Regexp.last_match(1).strip
        name = Regexp.last_match(2)
        params = split_params(Regexp.last_match(3))
        blocking = blocking_tag(name, doc)
        functions << [name, params.map { |t, _| ffi_type(t, callbacks, :param) }, ffi_type(ret, callbacks, :result), blocking]
      else
        raise GenError, "unrecognised declaration in the header: #{code}"
      end
    end
    render(consts, errors, typedefs, callbacks, structs, functions)
  end

  def blocking_tag(name, doc)
    doc = doc.to_s
    return true if doc.include?("Blocking (")
    return false if doc.include?("Never blocks")
    raise GenError, "#{name}: its doc says neither \"Blocking (...)\" nor \"Never blocks\""
  end

  def sym(value)
    value.inspect
  end

  def render(consts, errors, typedefs, callbacks, structs, functions)
    out = +<<~RUBY
      # frozen_string_literal: true

      # Generated by bindings/ruby/gen/generate.rb from include/zkutil.h. Do not edit.
      module Zkutil
    RUBY
    consts.each { |name, value| out << "  #{name} = #{value}\n" }
    out << "\n  # code => [exception class name, description from the header]\n"
    out << "  ERROR_CODES = {\n"
    errors.each { |code, klass, doc| out << "    #{code} => [#{sym(klass.to_sym)}, #{doc.inspect}],\n" }
    out << "  }.freeze\n\n"
    out << "  module Native\n"
    typedefs.each { |name, type| out << "    typedef #{sym(type)}, #{sym(name.to_sym)}\n" }
    out << "\n"
    structs.each do |name, fields|
      klass = name.delete_prefix("zku_").split("_").map(&:capitalize).join
      out << "    class #{klass} < FFI::Struct\n"
      out << "      layout " << fields.map { |f, t| "#{sym(f.to_sym)}, #{sym(t)}" }.join(",\n             ") << "\n"
      out << "    end\n\n"
    end
    callbacks.each do |name, (params, ret)|
      out << "    callback #{sym(name.to_sym)}, [#{params.map { |t| sym(t) }.join(', ')}], #{sym(ret)}\n"
    end
    out << "\n"
    functions.each do |name, params, ret, blocking|
      out << "    attach_function #{sym(name.to_sym)}, [#{params.map { |t| sym(t) }.join(', ')}], #{sym(ret)}, blocking: #{blocking}\n"
    end
    out << "  end\nend\n"
  end
end

if $PROGRAM_NAME == __FILE__
  begin
    text = ZkutilGen.generate
  rescue ZkutilGen::GenError => e
    abort "generate.rb: #{e.message}"
  end
  if ARGV.include?("--check")
    current = File.exist?(ZkutilGen::OUTPUT) ? File.read(ZkutilGen::OUTPUT) : ""
    if current != text
      warn "#{ZkutilGen::OUTPUT} is stale: run ruby bindings/ruby/gen/generate.rb"
      exit 1
    end
  else
    File.write(ZkutilGen::OUTPUT, text)
  end
end
