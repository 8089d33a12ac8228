# frozen_string_literal: true

require_relative "test_helper"

# Logging and statistics.
class LoggingTest < ZkCase
  def test_messages_reach_the_block_until_removed
    messages = Queue.new
    Zkutil.on_log(Zkutil::LOG_DEBUG) { |level, message| messages << [level, message] }
    c = Zkutil::Client.new(hosts: ZkTest.hosts)
    level, message = messages.pop
    assert_includes (Zkutil::LOG_ERROR..Zkutil::LOG_DEBUG), level
    assert_kind_of String, message
    assert_equal Encoding::UTF_8, message.encoding
    Zkutil.on_log
    c.free
    messages.clear
    Zkutil::Client.new(hosts: ZkTest.hosts).free
    assert_empty messages, "removed: not called again"
  ensure
    Zkutil.on_log
  end

  def test_bad_level
    assert_raises(Zkutil::InvalidArgument) { Zkutil.on_log(9) { |*| nil } }
  end

  def test_client_stats_count_requests
    before = client.stats
    assert_raises(Zkutil::NoNode) { client.get(unique_path) }
    after = client.stats
    assert_equal before[:requests_sent] + 1, after[:requests_sent]
    assert_equal before[:errors_node] + 1, after[:errors_node]
    client.close
    assert_equal after[:requests_sent], client.stats[:requests_sent], "readable after close"
  end
end
