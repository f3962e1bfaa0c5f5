// JavaStories drives ZooKeeper 3.8's own Java client through a few session
// stories and prints what its default watcher and its callbacks saw, one
// "story<TAB>observation" line each, in the order the client's event thread
// delivered them. internal/zkconform runs the same stories through fakezk's
// JavaClient mode and compares the lines (zkconform --java).
//
// Usage: java -cp zookeeper.jar:. JavaStories 127.0.0.1:PORT /root
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

public class JavaStories {
    static final int TIMEOUT_MS = 4000;
    static String addr;
    static String root;

    /** One story's log: events and callbacks, in delivery order. */
    static class Log implements Watcher {
        final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        volatile long syncConnectedAt, disconnectedAt;

        public void process(WatchedEvent e) {
            if (e.getType() == Event.EventType.None) {
                if (e.getState() == Event.KeeperState.SyncConnected) {
                    syncConnectedAt = System.nanoTime();
                }
                if (e.getState() == Event.KeeperState.Disconnected) {
                    disconnectedAt = System.nanoTime();
                }
                lines.add("event " + e.getState());
            }
        }

        void add(String s) {
            lines.add(s);
        }

        boolean has(String s) {
            synchronized (lines) {
                return lines.contains(s);
            }
        }

        void await(String s, long ms) throws InterruptedException {
            long end = System.currentTimeMillis() + ms;
            while (!has(s) && System.currentTimeMillis() < end) {
                Thread.sleep(5);
            }
        }
    }

    static String rc(int code) {
        return code == 0 ? "OK" : KeeperException.Code.get(code).name();
    }

    static ZooKeeper connect(Log log) throws Exception {
        ZooKeeper zk = new ZooKeeper(addr, TIMEOUT_MS, log);
        log.await("event SyncConnected", 10000);
        return zk;
    }

    /** Breaks the client's socket as a network fault would (ClientCnxnSocket.testableCloseSocket). */
    static void dropConnection(ZooKeeper zk) throws Exception {
        Field cnxnF = ZooKeeper.class.getDeclaredField("cnxn");
        cnxnF.setAccessible(true);
        Object cnxn = cnxnF.get(zk);
        Field stF = cnxn.getClass().getDeclaredField("sendThread");
        stF.setAccessible(true);
        Object st = stF.get(cnxn);
        Method close = st.getClass().getDeclaredMethod("testableCloseSocket");
        close.setAccessible(true);
        close.invoke(st);
    }

    static void print(String story, Log log) {
        synchronized (log.lines) {
            for (String l : log.lines) {
                System.out.println(story + "\t" + l);
            }
        }
    }

    public static void main(String[] args) throws Exception {
        addr = args[0];
        root = args[1];
        ZooKeeper admin = connect(new Log());
        String path = "";
        for (String part : root.substring(1).split("/")) {
            path += "/" + part;
            try {
                admin.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // made by an earlier run
            }
        }

        // connect: a new session is one SyncConnected.
        Log a = new Log();
        ZooKeeper za = connect(a);
        za.close();
        a.await("event Closed", 2000);
        print("connect", a);

        // close: a request sent before close() completes; then Closed; a call on the
        // closed handle fails with SessionExpired; the ephemeral is gone.
        Log c = new Log();
        ZooKeeper zc = connect(c);
        zc.create(root + "/c", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        zc.getData(root + "/c", false, (rc, p, ctx, data, stat) -> c.add("get before close: " + rc(rc)), null);
        zc.close();
        c.await("event Closed", 2000);
        CountDownLatch after = new CountDownLatch(1);
        zc.getData(root + "/c", false, (rc, p, ctx, data, stat) -> {
            c.add("get after close: " + rc(rc));
            after.countDown();
        }, null);
        after.await(2, TimeUnit.SECONDS);
        c.add("ephemeral exists after close: " + (admin.exists(root + "/c", false) != null));
        print("close", c);

        // drop: the connection breaks; a request made after Disconnected waits and
        // runs after SyncConnected on the same session; the reconnect comes 1-2s
        // after Disconnected.
        Log d = new Log();
        ZooKeeper zd = connect(d);
        long session = zd.getSessionId();
        dropConnection(zd);
        d.await("event Disconnected", 3000);
        zd.create(root + "/d", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT,
            (rc, p, ctx, name) -> d.add("create while disconnected: " + rc(rc)), null);
        d.await("create while disconnected: OK", 5000);
        // Measured from Disconnected: a closed socket is noticed only when the send
        // thread next wakes (up to readTimeout/2 later); then cleanup, 1s, 0-999ms.
        long ms = (d.syncConnectedAt - d.disconnectedAt) / 1000000;
        d.add("reconnect 1.0-2.2s after Disconnected: " + (ms >= 1000 && ms <= 2200));
        d.add("same session: " + (zd.getSessionId() == session));
        zd.close();
        // Closed comes from the event thread after close() returns: wait for it, or
        // the story races the print.
        d.await("event Closed", 2000);
        print("drop", d);

        // expire: another handle takes the session over and closes it; this one hears
        // Disconnected, queues a request, then on reconnect Expired and nothing more;
        // its requests fail with SessionExpired.
        Log e = new Log();
        ZooKeeper ze = connect(e);
        ze.create(root + "/e", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        Log thief = new Log();
        ZooKeeper zt = new ZooKeeper(addr, TIMEOUT_MS, thief, ze.getSessionId(), ze.getSessionPasswd());
        thief.await("event SyncConnected", 5000);
        zt.close();
        e.await("event Disconnected", 3000);
        ze.getData(root + "/e", false, (rc, p, ctx, data, stat) -> e.add("get while disconnected: " + rc(rc)), null);
        e.await("event Expired", 5000);
        Thread.sleep(3000);
        CountDownLatch late = new CountDownLatch(1);
        ze.getData(root + "/e", false, (rc, p, ctx, data, stat) -> {
            e.add("get after expiry: " + rc(rc));
            late.countDown();
        }, null);
        late.await(2, TimeUnit.SECONDS);
        e.add("alive after expiry: " + ze.getState().isAlive());
        e.add("ephemeral exists after expiry: " + (admin.exists(root + "/e", false) != null));
        print("expire", e);
        admin.close();
    }
}
