// wsreplay adapter for OkHttp's WebSocket client:
// OkHttpClient.newWebSocket(Request, WebSocketListener).
//
// Speaks the contract in harness/adapters/README.md (the shared parts are in
// Contract.java). OkHttp is callback-based: it reads frames on one thread per
// web socket and calls the listener there, so "the application has not read
// yet" is modelled by the listener not returning yet — see README.md.
//
// Choices that shape what the application sees:
// - pingInterval stays at OkHttp's default, 0 (no keepalive pings), so only
//   the scenario's frames are on the wire; there is no public API to send a
//   ping, so a "ping" item in the send knob is reported unsupported.
// - proxy(Proxy.NO_PROXY): the scenario server is reached directly.
// - Everything else (timeouts, retry, minWebSocketMessageToCompress, close
//   timeout) stays at the library's defaults; the adapter cuts its own final
//   wait at the job's deadline and then calls cancel().
// - The compression knob has nothing to set: 4.5.0+ always offers
//   permessage-deflate ("off" is unsupported), earlier versions never do
//   ("on" is unsupported).
// - OkHttp's close(code, reason) needs a code, so close_first with code null
//   is reported unsupported. The adapter's own final close is close(1000, null).

import java.io.IOException;
import java.net.InetAddress;
import java.net.Proxy;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.SocketFactory;
import okhttp3.Dispatcher;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.WebSocket;
import okhttp3.WebSocketListener;
import okio.ByteString;

public final class Adapter {
  private Adapter() {}

  static final String ADAPTER = "java-okhttp";
  static final String API = "okhttp3.OkHttpClient.newWebSocket(Request, WebSocketListener)";

  /** The version OkHttp reports about itself (OkHttp.VERSION, or the 3.x user agent). */
  static String libraryVersion() {
    String[][] places = {
      {"okhttp3.OkHttp", "VERSION"},
      {"okhttp3.internal.Version", "userAgent"},
      {"okhttp3.internal.VersionKt", "userAgent"},
    };
    for (String[] place : places) {
      try {
        Class<?> cls = Class.forName(place[0]);
        Object value = null;
        try {
          value = cls.getField(place[1]).get(null);
        } catch (NoSuchFieldException | NullPointerException ex) {
          for (String name : new String[] {place[1], "get" + place[1]}) {
            try {
              value = cls.getMethod(name).invoke(null);
              break;
            } catch (NoSuchMethodException | NullPointerException ignored) {
              // try the next form
            }
          }
          if (value == null) {
            Object instance = cls.getField("INSTANCE").get(null);
            value = cls.getMethod("get" + place[1]).invoke(instance);
          }
        }
        if (value != null) {
          String text = value.toString();
          return text.startsWith("okhttp/") ? text.substring("okhttp/".length()) : text;
        }
      } catch (ReflectiveOperationException | RuntimeException ex) {
        // not in this version
      }
    }
    return "unknown";
  }

  /**
   * The plain sockets OkHttp makes for one job (TLS is layered over them): the default
   * SocketFactory's, remembered to see at the job's end whether one is still open. A job's own
   * factory also keeps OkHttp from reusing another job's pooled connection (a connection's
   * Address includes its SocketFactory), as a job in a fresh process would not.
   */
  static final class Sockets extends SocketFactory {
    private final SocketFactory base = SocketFactory.getDefault();
    private final List<Socket> made = new ArrayList<>();

    private synchronized Socket keep(Socket socket) {
      made.add(socket);
      return socket;
    }

    synchronized List<Socket> open() {
      List<Socket> open = new ArrayList<>();
      for (Socket socket : made) {
        if (!socket.isClosed()) {
          open.add(socket);
        }
      }
      return open;
    }

    @Override
    public Socket createSocket() throws IOException {
      return keep(base.createSocket());
    }

    @Override
    public Socket createSocket(String host, int port) throws IOException {
      return keep(base.createSocket(host, port));
    }

    @Override
    public Socket createSocket(String host, int port, InetAddress local, int localPort)
        throws IOException {
      return keep(base.createSocket(host, port, local, localPort));
    }

    @Override
    public Socket createSocket(InetAddress host, int port) throws IOException {
      return keep(base.createSocket(host, port));
    }

    @Override
    public Socket createSocket(InetAddress host, int port, InetAddress local, int localPort)
        throws IOException {
      return keep(base.createSocket(host, port, local, localPort));
    }
  }

  /** One job: one web socket, one listener. */
  static final class OkJob extends Contract.CallbackJob {
    private final OkHttpClient client;
    private final Sockets sockets = new Sockets();
    private volatile WebSocket ws;
    /** OkHttp reported onFailure: it has given this web socket up. */
    private volatile boolean failed;

    OkJob(OkHttpClient base, Contract.Job job, Contract.Observation obs) throws Exception {
      super(job, obs);
      OkHttpClient.Builder builder = base.newBuilder().socketFactory(sockets);
      if (job.url.startsWith("wss:") && job.caFile != null) {
        Contract.Trust trust = new Contract.Trust(job.caFile);
        builder.sslSocketFactory(trust.context.getSocketFactory(), trust.manager);
      }
      client = builder.build();
    }

    @Override
    void connect() {
      Request.Builder request = new Request.Builder().url(job.url);
      if (!job.knobs.subprotocols.isEmpty()) {
        request.header("Sec-WebSocket-Protocol", String.join(", ", job.knobs.subprotocols));
      }
      ws = client.newWebSocket(request.build(), new Listener());
    }

    @Override
    boolean sendText(String text) {
      return ws.send(text);
    }

    @Override
    boolean sendBinary(byte[] data) {
      return ws.send(ByteString.of(data));
    }

    @Override
    boolean sendPing(byte[] payload) {
      throw new UnsupportedOperationException("OkHttp has no API to send a ping");
    }

    @Override
    boolean close(Integer code, String reason) {
      return ws.close(code, reason);
    }

    @Override
    boolean finalClose() {
      return ws.close(1000, null);
    }

    @Override
    String finalCloseApi() {
      return "WebSocket.close(1000, null)";
    }

    @Override
    boolean answersCloseItself() {
      return false;
    }

    @Override
    void abort() {
      if (failed) {
        // OkHttp has failed this web socket (onFailure) and is done with its call or finishing
        // it: cancel() would only race its call thread (whether a refused handshake's connection
        // went to the pool or was closed depended on which came first). What OkHttp left open
        // is jobOver's.
        return;
      }
      WebSocket current = ws;
      if (current != null) {
        current.cancel();
      }
    }

    /**
     * The job is over. After a refused handshake OkHttp keeps the TCP connection open: the
     * response to a non-101 status (its body read: a keep-alive connection) and a 101 it refused
     * (every one in 3.14.9 and 4.x; in 5.x one without "Connection: Upgrade") go back into the
     * client's ConnectionPool as idle connections, kept 5 minutes for a next request; 3.5.0
     * keeps them allocated. RFC 6455 7.1.7 asks the client to close the connection it failed.
     * The server then waited out its own timeouts (3-5 s a job) for an observation complete
     * after a few ms. An application done with its OkHttpClient releases them as OkHttpClient's
     * documentation says (connectionPool().evictAll()), or its process exits; so does the
     * adapter once OkHttp's call thread is done with the job (its dispatcher runs no call), when
     * a socket made for a job whose web socket never opened is still open, and records it:
     * socket_left_open, with the number of such sockets. A web socket that opened is OkHttp's to
     * close (it does, at onClosed/onFailure, or at the adapter's cancel()); nothing is done then.
     */
    @Override
    void jobOver(boolean opened) throws InterruptedException {
      if (opened) {
        return;
      }
      Dispatcher dispatcher = client.dispatcher();
      synchronized (IDLE) {
        long left;
        while (dispatcher.runningCallsCount() > 0
            && (left = deadlineNanos() - System.nanoTime()) > 0) {
          TimeUnit.NANOSECONDS.timedWait(IDLE, left);
        }
      }
      int open = sockets.open().size();
      if (open == 0) {
        return;
      }
      Map<String, Object> event =
          obs.event("socket_left_open", "sockets", open, "then", "connectionPool().evictAll()");
      client.connectionPool().evictAll();
      // One the pool does not hold as idle (3.5.0 never releases a refused connection) is
      // closed as an exiting process would close it.
      List<Socket> still = sockets.open();
      if (!still.isEmpty()) {
        obs.amend(event, Contract.map("then", "connectionPool().evictAll(), Socket.close()"));
        for (Socket socket : still) {
          try {
            socket.close();
          } catch (IOException ex) {
            Contract.log("closing a socket OkHttp left open failed: " + ex);
          }
        }
      }
    }

    final class Listener extends WebSocketListener {
      // Every method runs the adapter's code under guard(): what it throws is the adapter's
      // fault, not a crash of OkHttp's.

      @Override
      public void onOpen(WebSocket webSocket, Response response) {
        guard(
            () -> {
              ws = webSocket;
              OkJob.this.onOpen(response.header("Sec-WebSocket-Protocol"));
            });
      }

      @Override
      public void onMessage(WebSocket webSocket, String text) {
        guard(() -> OkJob.this.onMessage(text, null));
      }

      @Override
      public void onMessage(WebSocket webSocket, ByteString bytes) {
        guard(() -> OkJob.this.onMessage(null, bytes.toByteArray()));
      }

      @Override
      public void onClosing(WebSocket webSocket, int code, String reason) {
        guard(() -> onEnd("onClosing", true, code, reason, null));
      }

      @Override
      public void onClosed(WebSocket webSocket, int code, String reason) {
        guard(
            () -> {
              // Both close frames went through: OkHttp's normal end.
              noteClean(true, "onClosed");
              onFinished("onClosed", true, code, reason, null);
            });
      }

      @Override
      public void onFailure(WebSocket webSocket, Throwable t, Response response) {
        failed = true;
        guard(
            () -> {
              Integer status = null;
              if (response != null) {
                status = response.code();
                response.close();
              }
              // OkHttp's abnormal end (after onClosing too): no close code on this path.
              noteClean(false, "onFailure");
              onFailed("onFailure", t, status);
            });
      }
    }
  }

  /** OkHttp implements permessage-deflate: 4.5.0 added it with this builder option. */
  static boolean offersDeflate() {
    try {
      OkHttpClient.Builder.class.getMethod("minWebSocketMessageToCompress", long.class);
      return true;
    } catch (NoSuchMethodException ex) {
      return false;
    }
  }

  /** Notified when OkHttp's dispatcher runs no call any more (Dispatcher.setIdleCallback). */
  static final Object IDLE = new Object();

  public static void main(String[] args) throws Exception {
    Contract.Out out = new Contract.Out();
    String version;
    OkHttpClient base;
    try {
      version = libraryVersion();
      base = new OkHttpClient.Builder().proxy(Proxy.NO_PROXY).build();
      base.dispatcher()
          .setIdleCallback(
              () -> {
                synchronized (IDLE) {
                  IDLE.notifyAll();
                }
              });
    } catch (LinkageError ex) {
      out.emit(
          Contract.map(
              "event", "unsupported",
              "adapter", ADAPTER,
              "version", null,
              "reason", "cannot load OkHttp: " + ex));
      System.exit(Contract.EXIT_UNSUPPORTED);
      return;
    }
    Map<String, Object> ready =
        Contract.map(
            "event", "ready",
            "adapter", ADAPTER,
            "library", "okhttp",
            "version", version,
            "api", API,
            "language", Contract.javaVersion());
    out.emit(ready);
    Contract.Abilities can = new Contract.Abilities();
    can.sendPing = false;
    can.closeWithoutCode = false;
    // permessage-deflate (4.5.0+, with Builder.minWebSocketMessageToCompress): RealWebSocket
    // offers a bare "permessage-deflate" on every web socket and refuses a request that sets
    // Sec-WebSocket-Extensions itself, so it cannot be turned off; before 4.5.0 it never offers.
    boolean deflates = offersDeflate();
    can.compressionOff = !deflates;
    can.compressionOffers = deflates ? List.of(Map.of()) : List.of();
    Contract.serve(out, can, (job, obs) -> new OkJob(base, job, obs));
    // OkHttp's dispatcher threads are not daemons: leave without waiting for them.
    System.exit(0);
  }
}
