# frozen_string_literal: true

require_relative "test_helper"
require "open3"

# The gem as a program uses it: loading, exit, the example.
class ProcessTest < ZkCase
  LIB = File.expand_path("../lib", __dir__)

  def ruby(script, *args, env: {})
    Open3.capture2e(env, RbConfig.ruby, "-I", LIB, "-e", script, *args)
  end

  def test_zkutil_lib_names_the_library
    out, status = ruby('require "zkutil"', env: { "ZKUTIL_LIB" => "/nonexistent/libzkutil.so" })
    refute status.success?
    assert_includes out, "/nonexistent/libzkutil.so"
  end

  def test_handles_alive_at_exit_are_freed_so_ephemeral_nodes_vanish
    name = "ruby-exit-#{SecureRandom.hex(4)}"
    script = <<~RUBY
      require "zkutil"
      $client = Zkutil::Client.new(hosts: ARGV[0])
      $lock = $client.lock(ARGV[1])
      $lock.on_state { |_old, _new| }
      $reader = $client.reader(ARGV[2]) { |*| }
      $lock.acquire
      puts $lock.path
    RUBY
    out, status = ruby(script, ZkTest.hosts, name, client.create(unique_path, "{}"))
    assert status.success?, out
    assert_nil client.exists(out.strip), "the lock node outlived its process"
  end

  def test_example_program_runs
    example = File.expand_path("../examples/counter.rb", __dir__)
    out, status = Open3.capture2e({ "ZKU_HOSTS" => ZkTest.hosts }, RbConfig.ruby, "-I", LIB, example)
    assert status.success?, out
    assert_includes out, "reader saw {\"count\":2}"
    assert_includes out, "wait_absent interrupted by Timeout"
    assert_includes out, 'members: ["127.0.0.1:8080"]'
  end
end
