# frozen_string_literal: true

require_relative "test_helper"

# The IO of the client and the reader (the lock's, the FIFO's and the
# registration's are tested with them).
class IoTest < ZkCase
  def test_client_io_readable_on_session_state_changes
    c = Zkutil::Client.new(hosts: ZkTest.hosts)
    io = c.io
    assert IO.select([io], nil, nil, 2), "readable once after creation"
    assert_equal Zkutil::STATE_CONNECTED, c.drain
    refute IO.select([io], nil, nil, 0), "empty after drain"
    c.close
    assert IO.select([io], nil, nil, 2)
    assert_equal Zkutil::STATE_CLOSED, c.drain
    c.free
    assert_raises(Zkutil::Closed) { c.drain }
  end

  def test_reader_io_readable_on_a_change
    path = client.create(unique_path, '{"n":1}')
    reader = client.reader(path)
    io = reader.io
    assert IO.select([io], nil, nil, 2), "readable once after creation"
    assert_equal Zkutil::READER_STATE_FRESH, reader.drain
    refute IO.select([io], nil, nil, 0)
    client.set_json(path, '{"n":2}')
    assert IO.select([io], nil, nil, 5), "readable on the change"
    assert_equal Zkutil::READER_STATE_FRESH, reader.drain
    assert_equal "2", reader["/n"]
    client.delete(path)
    assert IO.select([io], nil, nil, 5)
    assert_equal Zkutil::READER_STATE_DELETED, reader.drain
    reader.free
  end
end
