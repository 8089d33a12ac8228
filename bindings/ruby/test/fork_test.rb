# frozen_string_literal: true

require_relative "test_helper"

class ForkTest < ZkCase
  def test_parent_handles_fail_in_the_child_and_new_clients_work
    path = client.create(unique_path, "parent")
    lock = client.lock("ruby-fork-#{SecureRandom.hex(4)}")
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      results = []
      [-> { client.get(path) }, -> { lock.acquire }].each do |call|
        call.call
        results << "no error"
      rescue Zkutil::Forked
        results << "forked"
      end
      if Zkutil.const_defined?(:EFORKED) # the library's fork support
        child = Zkutil::Client.new(hosts: ZkTest.hosts)
        results << child.get(path).first
        child.free
      end
      writer.puts results.join(",")
      writer.close
      exit!(0)
    end
    writer.close
    Process.wait(pid)
    out = reader.read.strip
    expected = %w[forked forked]
    expected << "parent" if Zkutil.const_defined?(:EFORKED)
    assert_equal expected.join(","), out
    assert $?.success?
    assert_equal "parent", client.get(path).first # the parent's client is untouched
    skip "library without fork support (no ZKU_EFORKED): new clients in the child not tested" unless Zkutil.const_defined?(:EFORKED)
  end
end
