# frozen_string_literal: true

require_relative "test_helper"
require_relative "../gen/generate"

class GeneratedTest < Minitest::Test
  def test_generated_file_matches_the_header
    assert_equal ZkutilGen.generate, File.read(ZkutilGen::OUTPUT),
                 "lib/zkutil/generated.rb is stale: run ruby bindings/ruby/gen/generate.rb"
  end

  def test_blocking_flags_follow_the_header_tags
    generated = File.read(ZkutilGen::OUTPUT)
    flag = ->(name) { generated[/attach_function :#{name}, .*blocking: (\w+)$/, 1] }
    assert_equal "true", flag["zku_client_get"]
    assert_equal "true", flag["zku_reader_close"] # waits for callbacks
    assert_equal "true", flag["zku_lock_free"]
    assert_equal "false", flag["zku_strerror"]
    assert_equal "false", flag["zku_cancel_cancel"]
  end

  def test_a_function_without_a_blocking_tag_is_refused
    assert_raises(ZkutilGen::GenError) { ZkutilGen.blocking_tag("zku_x", "Frees the thing.") }
  end

  def test_every_error_code_has_its_class_and_description
    codes = Zkutil.constants.grep(/\AE[A-Z0-9]+\z/).map { |c| Zkutil.const_get(c) }.select { |v| v.is_a?(Integer) && v.negative? }
    refute_empty codes
    codes.each do |code|
      klass = Zkutil::Error.for_code(code)
      assert_operator klass, :<, Zkutil::Error
      assert_equal code, klass::CODE
      assert_equal Zkutil.strerror(code), klass.new.message
    end
    assert_equal Zkutil::ENONODE, Zkutil::NoNode::CODE
  end

  def test_constants_and_version
    assert_equal 256, Zkutil::CREATE_PARENTS
    assert_equal Zkutil::VERSION, Zkutil.library_version
  end
end
