import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.RetryNTimes;

/** A Curator InterProcessReadWriteLock user for tests/fifo_interop.rs.
 *  Usage: CuratorRw HOSTS LOCK_PATH LOG ID ROUNDS. Alternates: even rounds take the write lock,
 *  odd rounds the read lock; appends "enter-write ID"/"exit-write ID" (or -read) to LOG while
 *  holding it. */
public class CuratorRw {
    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1], log = args[2], id = args[3];
        int rounds = Integer.parseInt(args[4]);
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, new RetryNTimes(3, 100));
        c.start();
        c.blockUntilConnected();
        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, path);
        for (int r = 0; r < rounds; r++) {
            boolean write = r % 2 == 0;
            InterProcessMutex m = write ? rw.writeLock() : rw.readLock();
            String side = write ? "write" : "read";
            m.acquire();
            CuratorMutex.append(log, "enter-" + side + " " + id);
            Thread.sleep(3);
            CuratorMutex.append(log, "exit-" + side + " " + id);
            m.release();
        }
        c.close();
    }
}
