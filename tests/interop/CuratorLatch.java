import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.nio.file.StandardOpenOption;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.retry.RetryNTimes;

/** A Curator LeaderLatch participant for tests/fifo_interop.rs.
 *  Usage: CuratorLatch HOSTS LATCH_PATH LOG ID ROUNDS. Each round: a new LeaderLatch with
 *  participant id ID, start, await leadership, append "enter ID LEADER" (LEADER: getLeader().getId())
 *  and "exit ID" to LOG, close (resign). */
public class CuratorLatch {
    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1], log = args[2], id = args[3];
        int rounds = Integer.parseInt(args[4]);
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, new RetryNTimes(3, 100));
        c.start();
        c.blockUntilConnected();
        for (int r = 0; r < rounds; r++) {
            LeaderLatch latch = new LeaderLatch(c, path, id);
            latch.start();
            latch.await();
            CuratorMutex.append(log, "enter " + id + " " + latch.getLeader().getId());
            Thread.sleep(2);
            CuratorMutex.append(log, "exit " + id);
            latch.close();
        }
        c.close();
    }
}
