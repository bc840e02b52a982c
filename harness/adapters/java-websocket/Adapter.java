// wsreplay adapter for Java-WebSocket (org.java-websocket:Java-WebSocket):
// a WebSocketClient subclass with onOpen/onMessage/onClose/onError.
//
// Speaks the contract in harness/adapters/README.md (the shared parts are in
// Contract.java). Java-WebSocket is callback-based: one thread per client
// reads the socket, decodes every frame of what it read and calls the
// callbacks there, so "the application has not read yet" is modelled by the
// callback not returning yet — see README.md.
//
// Choices that shape what the application sees:
// - setConnectionLostTimeout(0): the library's keepalive pings would add
//   frames the scenario did not script.
// - A Draft_6455 with no extensions (with a PerMessageDeflateExtension when the
//   compression knob asks, 1.5.0+); with subprotocols, one Protocol per
//   offered name (and nothing else, so the library insists on one of them).
// - TLS: setSocketFactory(SSLContext trusting only the job's CA) where the
//   version has it (1.4.0+), else setSocket(factory.createSocket()), the way
//   those versions' own examples do it. Hostname checking is whatever the
//   version does (1.5.0+: endpoint identification "HTTPS").
// - Everything else at the library's defaults. The adapter's own final close
//   is close() (1000); at the job's deadline it calls closeConnection(1006).

import java.io.File;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import java.net.URI;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import javax.net.SocketFactory;
import javax.net.ssl.SSLSocketFactory;
import org.java_websocket.client.WebSocketClient;
import org.java_websocket.drafts.Draft;
import org.java_websocket.drafts.Draft_6455;
import org.java_websocket.framing.PingFrame;
import org.java_websocket.handshake.ServerHandshake;

public final class Adapter {
  private Adapter() {}

  static final String ADAPTER = "java-websocket";
  static final String API = "org.java_websocket.client.WebSocketClient (onOpen/onMessage/onClose/onError)";
  static final int ABNORMAL_CLOSE = 1006;

  /**
   * org.java_websocket.protocols.Protocol, the Draft_6455 subprotocol API (1.3.7+); null before.
   * Used through reflection so that one source compiles against 1.3.4 to the newest release.
   */
  static final Class<?> PROTOCOL = classOrNull("org.java_websocket.protocols.Protocol");

  static Class<?> classOrNull(String name) {
    try {
      return Class.forName(name);
    } catch (ClassNotFoundException | LinkageError ex) {
      return null;
    }
  }

  /**
   * org.java_websocket.extensions.permessage_deflate.PerMessageDeflateExtension (1.5.0+); null
   * before. Its client offer is fixed (getProvidedExtensionAsClient): "permessage-deflate;
   * server_no_context_takeover; client_no_context_takeover".
   */
  static final Class<?> PER_MESSAGE_DEFLATE =
      classOrNull("org.java_websocket.extensions.permessage_deflate.PerMessageDeflateExtension");

  /** What the library can do (set once in main). */
  static final Contract.Abilities CAN = new Contract.Abilities();

  /**
   * The Draft_6455 of a job: new Draft_6455() when it offers neither a subprotocol nor
   * compression, else new Draft_6455(extensions, protocols) (1.3.7+) with [new
   * PerMessageDeflateExtension()] for compression and one Protocol per subprotocol (or the
   * library's own Protocol("") when there is none).
   */
  static Draft draft(List<String> names, boolean deflate) throws Exception {
    if (names.isEmpty() && !deflate) {
      return new Draft_6455();
    }
    List<Object> protocols = new ArrayList<>();
    Constructor<?> protocol = PROTOCOL.getConstructor(String.class);
    for (String name : names.isEmpty() ? List.of("") : names) {
      protocols.add(protocol.newInstance(name));
    }
    List<Object> extensions =
        deflate
            ? List.of(PER_MESSAGE_DEFLATE.getConstructor().newInstance())
            : Collections.emptyList();
    Constructor<Draft_6455> draft = Draft_6455.class.getConstructor(List.class, List.class);
    return draft.newInstance(extensions, protocols);
  }

  /** The subprotocol a Draft_6455 agreed on (1.3.7+: getProtocol()), null if none. */
  static String agreedProtocol(Draft used) {
    if (PROTOCOL == null || !(used instanceof Draft_6455)) {
      return null;
    }
    try {
      Object protocol = used.getClass().getMethod("getProtocol").invoke(used);
      if (protocol == null) {
        return null;
      }
      Object name = protocol.getClass().getMethod("getProvidedProtocol").invoke(protocol);
      return name == null || name.toString().isEmpty() ? null : name.toString();
    } catch (ReflectiveOperationException ex) {
      return null;
    }
  }
  static final int TLS_ERROR = 1015;

  /** The version in the library's own jar: its Maven pom.properties, else its manifest. */
  static String libraryVersion() {
    try {
      File jar = new File(WebSocketClient.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      try (JarFile file = new JarFile(jar)) {
        ZipEntry props =
            file.getEntry("META-INF/maven/org.java-websocket/Java-WebSocket/pom.properties");
        if (props != null) {
          java.util.Properties p = new java.util.Properties();
          p.load(file.getInputStream(props));
          if (p.getProperty("version") != null) {
            return p.getProperty("version");
          }
        }
        Manifest manifest = file.getManifest();
        if (manifest != null) {
          for (String key : new String[] {"Bundle-Version", "Implementation-Version"}) {
            String value = manifest.getMainAttributes().getValue(key);
            if (value != null) {
              return value;
            }
          }
        }
      }
    } catch (Exception ex) {
      Contract.log("cannot read the library's version: " + ex);
    }
    String fromPackage = WebSocketClient.class.getPackage().getImplementationVersion();
    return fromPackage != null ? fromPackage : "unknown";
  }

  /** One job: one WebSocketClient (they are single-use). */
  static final class JwJob extends Contract.CallbackJob {
    private final Client client;

    JwJob(Contract.Job job, Contract.Observation obs) throws Exception {
      super(job, obs);
      // compression: "on" or an object the library's one offer satisfies (checked before the
      // job runs) adds the PerMessageDeflateExtension; "off" and "default" add nothing
      boolean deflate = CAN.compressionPlan(job.knobs.compression) >= 0;
      client = new Client(new URI(job.url), draft(job.knobs.subprotocols, deflate));
      try {
        // 1.3.5+: no keepalive pings of the library's own (1.3.4 sends none)
        client.getClass().getMethod("setConnectionLostTimeout", int.class).invoke(client, 0);
      } catch (NoSuchMethodException ex) {
        // 1.3.4: no connection-lost detection at all
      }
      if (job.url.startsWith("wss:") && job.caFile != null) {
        SSLSocketFactory factory = new Contract.Trust(job.caFile).context.getSocketFactory();
        Method setter = null;
        try {
          setter = WebSocketClient.class.getMethod("setSocketFactory", SocketFactory.class);
        } catch (NoSuchMethodException ex) {
          // before 1.4.0: an unconnected SSL socket, which the client connects itself
        }
        if (setter != null) {
          setter.invoke(client, factory);
        } else {
          client.setSocket(factory.createSocket());
        }
      }
    }

    @Override
    void connect() {
      client.connect();
    }

    @Override
    boolean sendText(String text) {
      client.send(text);
      return true;
    }

    @Override
    boolean sendBinary(byte[] data) {
      client.send(data);
      return true;
    }

    @Override
    boolean sendPing(byte[] payload) {
      PingFrame ping = new PingFrame();
      ping.setPayload(ByteBuffer.wrap(payload));
      client.sendFrame(ping);
      return true;
    }

    @Override
    boolean close(Integer code, String reason) {
      if (code == null) {
        client.close();
      } else if (reason == null) {
        client.close(code);
      } else {
        client.close(code, reason);
      }
      return true;
    }

    @Override
    boolean finalClose() {
      client.close();
      return true;
    }

    @Override
    String finalCloseApi() {
      return "WebSocketClient.close()";
    }

    @Override
    boolean answersCloseItself() {
      return true;
    }

    @Override
    void abort() {
      client.closeConnection(ABNORMAL_CLOSE, "wsreplay adapter: job deadline reached");
    }

    /** onError came during this connection (after the open). */
    private volatile boolean errorAfterOpen;

    private volatile boolean opened;

    final class Client extends WebSocketClient {
      Client(URI uri, Draft draft) {
        super(uri, draft);
      }

      // Every callback runs the adapter's code under guard(): what it throws is the adapter's
      // fault, not a crash of Java-WebSocket's.

      @Override
      public void onOpen(ServerHandshake handshake) {
        guard(
            () -> {
              opened = true;
              JwJob.this.onOpen(agreedProtocol(getConnection().getDraft()));
            });
      }

      @Override
      public void onMessage(String message) {
        guard(() -> JwJob.this.onMessage(message, null));
      }

      @Override
      public void onMessage(ByteBuffer bytes) {
        guard(
            () -> {
              byte[] data = new byte[bytes.remaining()];
              bytes.get(data);
              JwJob.this.onMessage(null, data);
            });
      }

      @Override
      public void onClosing(int code, String reason, boolean remote) {
        guard(
            () ->
                obs.event(
                    "callback", "callback", "onClosing", "code", code, "reason", reason,
                    "remote", remote));
      }

      @Override
      public void onClose(int code, String reason, boolean remote) {
        guard(
            () -> {
              // Java-WebSocket has no "was clean" flag: it reports an abnormal end as code 1006
              // (ABNORMAL_CLOSE; 1015 for TLS, negative codes for never connected), and any
              // failure through onError first.
              boolean abnormal = code == ABNORMAL_CLOSE || code == TLS_ERROR || code < 1000;
              boolean error = errorAfterOpen;
              noteClean(
                  !abnormal && !error,
                  "onClose(" + code + ", remote=" + remote + ")" + (error ? " after onError" : ""));
              onFinished("onClose", true, code, reason, null, "remote", remote);
            });
      }

      @Override
      public void onError(Exception ex) {
        guard(
            () -> {
              if (opened) {
                errorAfterOpen = true;
              }
              noteError("onError", ex);
            });
      }
    }
  }

  public static void main(String[] args) throws Exception {
    Contract.Out out = new Contract.Out();
    String version = libraryVersion();
    out.emit(
        Contract.map(
            "event", "ready",
            "adapter", ADAPTER,
            "library", "Java-WebSocket",
            "version", version,
            "api", API,
            "language", Contract.javaVersion()));
    Contract.Abilities can = CAN;
    can.subprotocols = PROTOCOL != null; // before 1.3.7 Draft_6455 cannot offer any
    // with no extension a Draft_6455 offers none (no Sec-WebSocket-Extensions): "off" holds for
    // every version; the one offer PerMessageDeflateExtension makes from 1.5.0
    can.compressionOffers =
        PER_MESSAGE_DEFLATE == null
            ? List.of()
            : List.of(
                Map.of("server_no_context_takeover", true, "client_no_context_takeover", true));
    Contract.serve(out, can, JwJob::new);
    System.exit(0);
  }
}
