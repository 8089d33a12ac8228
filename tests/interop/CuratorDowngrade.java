import java.io.BufferedReader;
import java.io.InputStreamReader;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.retry.RetryNTimes;

/** One step of Curator's InterProcessReadWriteLock, driven by tests/fifo_interop.rs over
 *  stdin/stdout. Usage: CuratorDowngrade HOSTS LOCK_PATH MODE.
 *  MODE downgrade: take the write lock, then the read lock, release the write lock, print
 *  "downgraded"; on a line from stdin release the read lock and exit.
 *  MODE write: take the write lock (waiting as long as it takes), print "held"; on a line from
 *  stdin release it and exit. */
public class CuratorDowngrade {
    public static void main(String[] args) throws Exception {
        String hosts = args[0], path = args[1], mode = args[2];
        CuratorFramework c = CuratorFrameworkFactory.newClient(hosts, new RetryNTimes(3, 100));
        c.start();
        c.blockUntilConnected();
        InterProcessReadWriteLock rw = new InterProcessReadWriteLock(c, path);
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        if (mode.equals("downgrade")) {
            rw.writeLock().acquire();
            rw.readLock().acquire();
            rw.writeLock().release();
            System.out.println("downgraded");
            System.out.flush();
            in.readLine();
            rw.readLock().release();
        } else {
            rw.writeLock().acquire();
            System.out.println("held");
            System.out.flush();
            in.readLine();
            rw.writeLock().release();
        }
        c.close();
    }
}
