# frozen_string_literal: true

require_relative "test_helper"

class ReaderTest < ZkCase
  def test_change_seen_by_watch_and_block
    path = client.create(unique_path, '{"n":1}')
    events = Queue.new
    reader = client.reader(path) { |event, _path, _old, new_json, _stat| events << [event, new_json] }
    assert_equal "1", reader["/n"]
    client.set_json(path, '{"n":2}')
    old_json, new_json, stat = reader.watch(timeout_ms: 5000)
    assert_equal ['{"n":1}', '{"n":2}', 1], [old_json, new_json, stat.version]
    assert_equal [Zkutil::READER_EVENT_CHANGED, '{"n":2}'], events.pop
    assert_equal '{"n":2}', reader.get
    reader.close
    assert_equal Zkutil::READER_STATE_CLOSED, reader.state
    assert_raises(Zkutil::Closed) { reader.get }
  end

  def test_raising_block_is_reported_and_the_reader_goes_on
    errors = Queue.new
    Zkutil.callback_error_handler = ->(e) { errors << e }
    path = client.create(unique_path, '{"n":1}')
    reader = client.reader(path) { |*| raise IOError, "in the reader block" }
    client.set_json(path, '{"n":2}')
    assert_equal "in the reader block", errors.pop.message
    client.set_json(path, '{"n":3}')
    _old, new_json, = reader.watch(timeout_ms: 5000) until new_json == '{"n":3}'
    assert_equal "3", reader["/n"]
    reader.free
  ensure
    Zkutil.callback_error_handler = ->(e) { warn "zkutil: callback raised #{e.class}: #{e.message}" }
  end

  def test_state_block_raising_is_reported
    errors = Queue.new
    Zkutil.callback_error_handler = ->(e) { errors << e }
    c = Zkutil::Client.new(hosts: ZkTest.hosts)
    c.on_state { |_old, _new| raise "state block" }
    c.close
    assert_equal "state block", errors.pop.message
    c.free
  ensure
    Zkutil.callback_error_handler = ->(e) { warn "zkutil: callback raised #{e.class}: #{e.message}" }
  end
end
