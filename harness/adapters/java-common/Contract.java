// The adapter contract (harness/adapters/README.md) for callback-based Java
// WebSocket clients: JSON lines in and out, the job's knobs, the observation,
// and the receive state machine shared by every such library.
//
// Shared by every Java adapter: installers/java.py compiles it in beside each
// adapter's own Adapter.java, against one library version at a time and the
// pinned Gson (installers/java.py CONTRACT_JSON), which reads the jobs and
// writes the contract lines. Otherwise the standard library only.

import com.google.gson.FieldNamingPolicy;
import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.ToNumberPolicy;
import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.security.KeyStore;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

final class Contract {
  private Contract() {}

  /** Exit status of an adapter whose library lacks the API it drives. */
  static final int EXIT_UNSUPPORTED = 3;
  /** Message content up to this many bytes is reported inline, longer ones as sha256. */
  static final int INLINE_LIMIT = 4096;
  /** Kept free before the job's deadline so the observation still gets out. */
  static final long DEADLINE_MARGIN_MS = 500;
  /** How long connecting may take (the libraries' own connect and read timeouts are 10 s). */
  static final long OPEN_TIMEOUT_MS = 20_000;
  /** How long a connect failure reported without an exception waits for one. */
  static final long CONNECT_ERROR_GRACE_MS = 200;

  // ------------------------------------------------------------------ JSON

  /**
   * Jobs bind to Job, Knobs, SendItem and CloseFirst (snake_case keys onto camelCase fields);
   * a line out is a Map of Strings, Numbers, Booleans, Maps and Lists. Null fields are written
   * (the observation's fields are always there); numbers come out as Java prints them (t_ms 101.4,
   * duration_ms 0.0, length 13).
   */
  static final Gson GSON =
      new GsonBuilder()
          .serializeNulls()
          .disableHtmlEscaping()
          .setFieldNamingPolicy(FieldNamingPolicy.LOWER_CASE_WITH_UNDERSCORES)
          .setObjectToNumberStrategy(ToNumberPolicy.LONG_OR_DOUBLE)
          .create();

  /**
   * One line of JSON, pure ASCII: every character past '~' as a backslash-u escape. Gson writes
   * such characters as they are, and only inside strings, so escaping them afterwards keeps the
   * JSON the same.
   */
  static String json(Object value) {
    String text = GSON.toJson(value);
    StringBuilder out = new StringBuilder(text.length());
    for (int k = 0; k < text.length(); k++) {
      char c = text.charAt(k);
      if (c > 0x7e) {
        out.append(String.format("\\u%04x", (int) c));
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  // ------------------------------------------------------------------ output

  /**
   * The contract channel: the process's original stdout. System.out is pointed at
   * stderr, so nothing a library prints can corrupt the protocol.
   */
  static final class Out {
    private final PrintStream stream;

    Out() {
      System.out.flush();
      stream =
          new PrintStream(new FileOutputStream(FileDescriptor.out), false, StandardCharsets.US_ASCII);
      System.setOut(System.err);
    }

    synchronized void emit(Map<String, Object> line) {
      stream.print(json(line));
      stream.print('\n');
      stream.flush();
    }
  }

  /** Job lines from stdin, UTF-8; null at EOF. */
  static BufferedReader jobReader() {
    InputStream in = new FileInputStream(FileDescriptor.in);
    return new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
  }

  static Map<String, Object> map(Object... keysAndValues) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (int k = 0; k + 1 < keysAndValues.length; k += 2) {
      out.put((String) keysAndValues[k], keysAndValues[k + 1]);
    }
    return out;
  }

  static String javaVersion() {
    return "java " + System.getProperty("java.version");
  }

  static void log(String message) {
    System.err.println("wsreplay adapter: " + message);
    System.err.flush();
  }

  // ------------------------------------------------------------------ bytes

  static String hex(byte[] data) {
    StringBuilder out = new StringBuilder(data.length * 2);
    for (byte b : data) {
      out.append(Character.forDigit((b >> 4) & 0xf, 16)).append(Character.forDigit(b & 0xf, 16));
    }
    return out.toString();
  }

  static byte[] unhex(String text) {
    String clean = text.replace(" ", "");
    if (clean.length() % 2 != 0) {
      throw new IllegalArgumentException("odd number of hex digits: " + text);
    }
    byte[] out = new byte[clean.length() / 2];
    for (int k = 0; k < out.length; k++) {
      int hi = Character.digit(clean.charAt(2 * k), 16);
      int lo = Character.digit(clean.charAt(2 * k + 1), 16);
      if (hi < 0 || lo < 0) {
        throw new IllegalArgumentException("not hex: " + text);
      }
      out[k] = (byte) ((hi << 4) | lo);
    }
    return out;
  }

  static String sha256(byte[] data) {
    try {
      return hex(MessageDigest.getInstance("SHA-256").digest(data));
    } catch (NoSuchAlgorithmException ex) {
      throw new IllegalStateException(ex);
    }
  }

  /** A message as the contract wants it: type, byte length, content or digest. */
  static Map<String, Object> describe(String text, byte[] binary) {
    boolean isText = text != null;
    byte[] raw = isText ? text.getBytes(StandardCharsets.UTF_8) : binary;
    Map<String, Object> entry = map("type", isText ? "text" : "binary", "length", raw.length);
    if (raw.length > INLINE_LIMIT) {
      entry.put("sha256", sha256(raw));
    } else if (isText) {
      entry.put("text", text);
    } else {
      entry.put("hex", hex(raw));
    }
    return entry;
  }

  static Map<String, Object> errorInfo(Throwable t) {
    String message = t.getMessage();
    return map("type", t.getClass().getName(), "message", message != null ? message : t.toString());
  }

  /** Whether the exception or one of its causes passes the test. */
  static boolean anyCause(Throwable error, Predicate<Throwable> test) {
    for (Throwable t = error; t != null; t = t.getCause()) {
      if (test.test(t)) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  static String traceback(Throwable t) {
    StringWriter text = new StringWriter();
    t.printStackTrace(new PrintWriter(text));
    return text.toString();
  }

  // ------------------------------------------------------------------ TLS

  /** An SSLContext and trust manager that trust exactly the CA certificates in caFile. */
  static final class Trust {
    final SSLContext context;
    final X509TrustManager manager;

    Trust(String caFile) throws Exception {
      KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
      store.load(null, null);
      int n = 0;
      try (InputStream in = new FileInputStream(caFile)) {
        for (Certificate cert : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
          store.setCertificateEntry("wsreplay-ca-" + n++, cert);
        }
      }
      if (n == 0) {
        throw new IOException("no certificate in " + caFile);
      }
      TrustManagerFactory factory =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(store);
      X509TrustManager found = null;
      for (TrustManager tm : factory.getTrustManagers()) {
        if (tm instanceof X509TrustManager) {
          found = (X509TrustManager) tm;
        }
      }
      if (found == null) {
        throw new IOException("no X509TrustManager for " + caFile);
      }
      manager = found;
      context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {manager}, null);
    }
  }

  // ------------------------------------------------------------------ jobs

  /** The job line is not what the contract describes (a harness bug). */
  static final class BadJob extends Exception {
    private static final long serialVersionUID = 1L;

    BadJob(String message) {
      super(message);
    }
  }

  /** One item of the send knob: exactly one of text, hex (a binary message) or ping. */
  static final class SendItem {
    String text;
    String hex;
    String ping;

    /** "text", "binary" or "ping". */
    String kind() {
      return text != null ? "text" : hex != null ? "binary" : "ping";
    }
  }

  /** The close_first knob. */
  static final class CloseFirst {
    Integer code; // null: the library's close with no code
    String reason; // null when the job gives none
    long afterMessages = -1; // -1 when after_ms is used
    long afterMs = -1; // -1 when after_messages is used
  }

  /**
   * The client knobs, as the harness sends them: always all of them, with the scenario
   * language's defaults filled in and the values checked by the scenario loader.
   */
  static final class Knobs {
    long recvDelayMs;
    long recvPaceMs;
    long recvTimeoutMs;
    long maxMessages;
    boolean echo;
    List<SendItem> send;
    CloseFirst closeFirst;
    List<String> subprotocols;
    /**
     * "default", "off", "on" or an object of permessage-deflate offer parameters (see {@link
     * Abilities#compressionPlan}); null in a job from a server older than the knob: "default".
     */
    JsonElement compression;
  }

  /** The knob names above; any other one a job sets (not null or false) is unsupported. */
  static final Set<String> KNOBS =
      Set.of(
          "recv_delay_ms", "recv_pace_ms", "recv_timeout_ms", "max_messages", "echo", "send",
          "close_first", "subprotocols");

  /** What a library can do; anything else a job asks for is reported unsupported. */
  static final class Abilities {
    boolean sendPing = true;
    boolean closeWithoutCode = true;
    boolean subprotocols = true;

    /** The library can leave permessage-deflate out of its opening handshake (compression off). */
    boolean compressionOff = true;

    /**
     * The permessage-deflate offers the library can make, the first being its own (compression
     * "on"); each maps the parameters in the offer, named as the knob names them, to true (a flag,
     * or client_max_window_bits without a value) or to window bits (an Integer).
     */
    List<Map<String, Object>> compressionOffers = List.of();

    /** compressionPlan: leave the library's default. */
    static final int COMPRESSION_DEFAULT = -1;

    /** compressionPlan: make no permessage-deflate offer. */
    static final int COMPRESSION_NO_OFFER = -2;

    /** compressionPlan: the library cannot honour the knob. */
    static final int COMPRESSION_UNSUPPORTED = -3;

    /**
     * What the library does for the compression knob: COMPRESSION_DEFAULT ("default"),
     * COMPRESSION_NO_OFFER ("off", when it can), or the index in compressionOffers of the offer to
     * make ("on": the first; an object: the first offer that carries every parameter the object
     * gives, as given, false meaning absent; parameters it does not give are the library's
     * choice); COMPRESSION_UNSUPPORTED when it cannot.
     */
    int compressionPlan(JsonElement knob) {
      if (knob == null || knob.isJsonNull()) {
        return COMPRESSION_DEFAULT;
      }
      if (knob.isJsonPrimitive()) {
        switch (knob.getAsString()) {
          case "default":
            return COMPRESSION_DEFAULT;
          case "off":
            return compressionOff ? COMPRESSION_NO_OFFER : COMPRESSION_UNSUPPORTED;
          case "on":
            return compressionOffers.isEmpty() ? COMPRESSION_UNSUPPORTED : 0;
          default:
            return COMPRESSION_UNSUPPORTED;
        }
      }
      if (!knob.isJsonObject()) {
        return COMPRESSION_UNSUPPORTED;
      }
      for (int i = 0; i < compressionOffers.size(); i++) {
        if (offers(compressionOffers.get(i), knob.getAsJsonObject())) {
          return i;
        }
      }
      return COMPRESSION_UNSUPPORTED;
    }

    /** The offer carries every parameter the knob's object gives, as given. */
    private static boolean offers(Map<String, Object> offer, JsonObject wanted) {
      for (Map.Entry<String, JsonElement> entry : wanted.entrySet()) {
        Object got = offer.get(entry.getKey());
        JsonPrimitive want = entry.getValue().getAsJsonPrimitive();
        boolean ok;
        if (want.isBoolean()) {
          ok = want.getAsBoolean() ? Boolean.TRUE.equals(got) : got == null;
        } else {
          ok = got instanceof Integer && want.getAsInt() == (Integer) got;
        }
        if (!ok) {
          return false;
        }
      }
      return true;
    }

    /** The names of the knobs a job sets that this library cannot honour, in the job's order. */
    List<String> unsupported(JsonObject given, Knobs knobs) {
      List<String> out = new ArrayList<>();
      for (Map.Entry<String, JsonElement> entry : given.entrySet()) {
        String name = entry.getKey();
        JsonElement value = entry.getValue();
        boolean cannot;
        switch (name) {
          case "send":
            cannot = !sendPing && knobs.send.stream().anyMatch(item -> item.ping != null);
            break;
          case "close_first":
            cannot = !closeWithoutCode && knobs.closeFirst != null && knobs.closeFirst.code == null;
            break;
          case "subprotocols":
            cannot = !subprotocols && !knobs.subprotocols.isEmpty();
            break;
          case "compression":
            cannot = compressionPlan(value) == COMPRESSION_UNSUPPORTED;
            break;
          default:
            boolean off =
                value.isJsonNull()
                    || (value.isJsonPrimitive()
                        && value.getAsJsonPrimitive().isBoolean()
                        && !value.getAsBoolean());
            cannot = !KNOBS.contains(name) && !off;
        }
        if (cannot) {
          out.add(name);
        }
      }
      return out;
    }
  }

  /** A job line (harness/adapters/README.md); its id goes to the Observation as it came. */
  static final class Job {
    String url;
    String caFile;
    long deadlineMs = -1;
    Knobs knobs;
  }

  // ------------------------------------------------------------------ observation

  /** What the application saw during one job; callbacks and the main thread add to it. */
  static final class Observation {
    final Map<String, Object> data = new LinkedHashMap<>();
    final List<Object> messages = new ArrayList<>();
    final List<Object> events = new ArrayList<>();
    private long t0 = System.nanoTime();
    /** Set by finish(): late callbacks of a finished job change nothing any more. */
    private boolean frozen;

    Observation(Object id) {
      data.put("id", id);
      data.put("connected", false);
      data.put("messages", messages);
      data.put("close", null);
      data.put("end", null);
      data.put("error", null);
      data.put("unsupported", new ArrayList<>());
      data.put("subprotocol", null);
      data.put("t0_unix_us", null);
      data.put("clean", null);
      data.put("clean_source", null);
      data.put("crash", null);
      data.put("events", events);
      data.put("duration_ms", 0.0);
    }

    /**
     * connect_start: every t_ms is measured from here; t0_unix_us is the same instant on the wall
     * clock (microseconds since the Unix epoch), to place the events on the server transcript's
     * clock.
     */
    synchronized void start() {
      Instant wall = Instant.now();
      t0 = System.nanoTime();
      data.put("t0_unix_us", wall.getEpochSecond() * 1_000_000L + wall.getNano() / 1_000);
      events.add(map("t_ms", 0.0, "event", "connect_start"));
    }

    /**
     * An exception the library raised outside any call the application made: each one is a
     * crash event, the first one the observation's crash.
     */
    synchronized void crash(String type, String message, String where, String stack) {
      if (frozen) {
        return;
      }
      Map<String, Object> info = map("type", type, "message", message, "where", where);
      Map<String, Object> entry = map("t_ms", nowMs(), "event", "crash");
      entry.putAll(info);
      events.add(entry);
      if (data.get("crash") == null) {
        if (stack != null) {
          info.put("stack", stack);
        }
        data.put("crash", info);
      }
    }

    synchronized double nowMs() {
      return Math.round((System.nanoTime() - t0) / 1000.0) / 1000.0;
    }

    synchronized long startNanos() {
      return t0;
    }

    synchronized Map<String, Object> event(String name, Object... fields) {
      return event(name, map(fields));
    }

    synchronized Map<String, Object> event(String name, Map<String, Object> fields) {
      Map<String, Object> entry = map("t_ms", nowMs(), "event", name);
      entry.putAll(fields);
      if (!frozen) {
        events.add(entry);
      }
      return entry;
    }

    /** Adds fields to an event already recorded (e.g. a call's result once it returned). */
    synchronized void amend(Map<String, Object> event, Map<String, Object> fields) {
      if (!frozen) {
        event.putAll(fields);
      }
    }

    synchronized void message(String text, byte[] binary) {
      if (frozen) {
        return;
      }
      Map<String, Object> entry = describe(text, binary);
      Map<String, Object> event =
          event("message", "type", entry.get("type"), "length", entry.get("length"));
      entry.put("t_ms", event.get("t_ms"));
      messages.add(entry);
    }

    synchronized void put(String key, Object value) {
      if (!frozen) {
        data.put(key, value);
      }
    }

    synchronized Object get(String key) {
      return data.get(key);
    }

    synchronized Map<String, Object> finish() {
      if (!frozen) {
        data.put("duration_ms", nowMs());
        frozen = true;
      }
      return data;
    }
  }

  // ------------------------------------------------------------------ crashes

  /**
   * Catches, process-wide, the exceptions a library raises outside any call the application made:
   * a library thread that dies of an uncaught exception, an exception the library only logs
   * (java.util.logging records that carry one), and one the library hands to its error callback
   * although neither the network nor the application caused it (a RuntimeException or Error: a
   * bug inside the library). Each is attributed to the job running when it happens; one raised
   * between jobs goes to the next job, saying so. Exceptions the adapter's own callback code
   * threw are the adapter's (adapter_error), never a crash.
   */
  static final class CrashWatch {
    /** How much of a crash's stack trace is kept. */
    static final int STACK_LIMIT = 8000;

    private static final Object LOCK = new Object();
    private static Observation current;
    private static Object lastId;
    private static final List<String[]> between = new ArrayList<>();
    private static final Map<Throwable, Boolean> own =
        Collections.synchronizedMap(new IdentityHashMap<>());
    private static boolean installed;

    private CrashWatch() {}

    static void install() {
      synchronized (LOCK) {
        if (installed) {
          return;
        }
        installed = true;
      }
      Thread.setDefaultUncaughtExceptionHandler(
          (thread, error) -> {
            System.err.print("Exception in thread \"" + thread.getName() + "\" ");
            error.printStackTrace(System.err);
            report(error, "uncaught in thread '" + thread.getName() + "'");
          });
      Logger root = Logger.getLogger("");
      root.addHandler(
          new Handler() {
            @Override
            public void publish(LogRecord record) {
              Throwable thrown = record.getThrown();
              if (thrown != null) {
                report(thrown, "logged by " + record.getLoggerName() + " (" + record.getLevel()
                    + "): " + record.getMessage());
              }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
          });
    }

    static void begin(Observation obs) {
      List<String[]> pending;
      synchronized (LOCK) {
        current = obs;
        pending = new ArrayList<>(between);
        between.clear();
      }
      for (String[] info : pending) {
        obs.crash(info[0], info[1], info[2], info[3]);
      }
    }

    static void done(Observation obs) {
      synchronized (LOCK) {
        if (current == obs) {
          current = null;
          lastId = obs.get("id");
        }
      }
    }

    /** The adapter's own code threw this (it is not the library's crash). */
    static <T extends Throwable> T own(T error) {
      own.put(error, Boolean.TRUE);
      return error;
    }

    static boolean isOwn(Throwable error) {
      return anyCause(error, own::containsKey);
    }

    /** An exception that no network event explains: a bug in the library (or the JVM). */
    static boolean isFault(Throwable error) {
      return (error instanceof RuntimeException || error instanceof Error) && !isOwn(error);
    }

    static void report(Throwable error, String where) {
      if (isOwn(error)) {
        return;
      }
      String message = error.getMessage() != null ? error.getMessage() : error.toString();
      String type = error.getClass().getName();
      String stack = traceback(error);
      if (stack.length() > STACK_LIMIT) {
        stack = stack.substring(0, STACK_LIMIT) + "\n...";
      }
      Observation obs;
      synchronized (LOCK) {
        obs = current;
        if (obs == null) {
          between.add(
              new String[] {
                type, message, where + "; raised between jobs, after job " + json(lastId), stack
              });
          return;
        }
      }
      obs.crash(type, message, where, stack);
    }
  }

  // ------------------------------------------------------------------ a callback library's job

  /** A call into the library that says whether it was accepted (send, close). */
  interface LibraryCall {
    boolean run() throws Exception;
  }

  /** Makes the call: {"accepted": what it returned} or {"error": errorInfo of what it threw}. */
  static Map<String, Object> outcome(LibraryCall call) {
    try {
      return map("accepted", call.run());
    } catch (Exception ex) {
      return map("error", errorInfo(ex));
    }
  }

  /**
   * One job against a library that delivers events to callbacks on its own reader thread.
   *
   * <p>The "application" is the callbacks: the receive knobs are honoured by blocking the
   * library's callback thread, which is what an application that is busy in its handler does.
   * recv_delay_ms blocks the open callback (after the send knob), so the library reads nothing
   * more until it returns; recv_pace_ms blocks each message callback after the message was
   * recorded (and echoed). The main thread only watches: it ends receiving on the library's end
   * signal, on recv_timeout_ms without a message (the clock runs only while no callback is busy),
   * or at max_messages, then makes the final close (a library that does not answer the server's
   * close frame itself gets that answer from the callback that reported the frame).
   *
   * <p>Subclasses connect, send and close through the library and call the on* methods from
   * the library's callbacks.
   */
  abstract static class CallbackJob {
    final Job job;
    final Knobs knobs;
    final Observation obs;
    private final Object lock = new Object();
    private final long deadlineNanos;
    /** The close_first after_ms timer, started by the open callback. */
    private volatile ScheduledExecutorService timer;

    // Guarded by lock.
    private boolean connectDone;
    private boolean opened;
    private boolean recvStarted;
    private boolean inCallback;
    private boolean stopped;
    private boolean finished;
    private boolean aborted;
    private Throwable firstError;
    private boolean connectErrorMissing;
    private long lastActivity;
    private long received;
    private String end;
    private String closeSource = "none";
    private boolean finalCloseCalled;
    private boolean cleanKnown;
    private Throwable adapterFault;

    CallbackJob(Job job, Observation obs) {
      this.job = job;
      this.knobs = job.knobs;
      this.obs = obs;
      long now = System.nanoTime();
      this.deadlineNanos =
          job.deadlineMs > 0
              ? now + TimeUnit.MILLISECONDS.toNanos(job.deadlineMs - DEADLINE_MARGIN_MS)
              : Long.MAX_VALUE;
    }

    // -- what a library adapter provides

    /** Starts connecting and returns; the library then calls back onOpen or a failure. */
    abstract void connect() throws Exception;

    abstract boolean sendText(String text) throws Exception;

    abstract boolean sendBinary(byte[] data) throws Exception;

    abstract boolean sendPing(byte[] payload) throws Exception;

    /** The application's close: code null = the library's close with no code. */
    abstract boolean close(Integer code, String reason) throws Exception;

    /** The adapter's own close at the end of a job, as a plain application does it. */
    abstract boolean finalClose() throws Exception;

    /** finalClose() in words, for the close_call event, e.g. "WebSocket.close(1000, null)". */
    abstract String finalCloseApi();

    /**
     * Whether the library answers the server's close frame by itself. When it does not (OkHttp),
     * the application answers from the callback that reported it, as the library's own samples
     * do; otherwise the final close comes after receiving ended.
     */
    abstract boolean answersCloseItself();

    /** Tear the connection down without a closing handshake (deadline reached). */
    abstract void abort();

    /**
     * The job is over, its observation not yet out (opened: whether the library reported the
     * open): an adapter whose library keeps connections of its own (a pool) tidies up what the
     * library left open for this job, as an application exiting would, and records that as an
     * event (java-okhttp: socket_left_open). Nothing by default.
     */
    void jobOver(boolean opened) throws InterruptedException {}

    /** When the job's deadline (less the margin) comes, on System.nanoTime()'s clock. */
    long deadlineNanos() {
      return deadlineNanos;
    }

    /**
     * Runs the adapter's own code on a library thread (a listener method): what it throws is the
     * adapter's fault (the job becomes adapter_error), never the library's crash.
     */
    void guard(Runnable body) {
      try {
        body.run();
      } catch (RuntimeException | Error ex) {
        CrashWatch.own(ex);
        synchronized (lock) {
          if (adapterFault == null) {
            adapterFault = ex;
          }
          lock.notifyAll();
        }
        throw ex;
      }
    }

    /**
     * How the library reported the end of an opened connection: clean (true) or not (false), and
     * where that was read. Call it from the callback that ends the connection, before onFinished
     * or onFailed; the first report counts, and nothing after the adapter's own abort does.
     */
    void noteClean(boolean clean, String source) {
      synchronized (lock) {
        if (!opened || cleanKnown || aborted) {
          return;
        }
        cleanKnown = true;
        obs.put("clean", clean);
        obs.put("clean_source", source);
      }
    }

    // -- callbacks (library threads)

    /** The opening handshake succeeded. Runs the send knob, close_first 0, then the delay. */
    void onOpen(String subprotocol) {
      long openNanos = System.nanoTime();
      synchronized (lock) {
        if (connectDone) {
          return;
        }
        connectDone = true;
        opened = true;
        obs.put("connected", true);
        obs.put("subprotocol", subprotocol);
        obs.event("open");
        lock.notifyAll();
      }
      for (SendItem item : knobs.send) {
        recordSend("send", "kind", item.kind(), () -> send(item));
      }
      CloseFirst cf = knobs.closeFirst;
      if (cf != null && cf.afterMessages == 0) {
        closeFirst();
      } else if (cf != null && cf.afterMs >= 0) {
        long wait = Math.max(0, cf.afterMs - TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - openNanos));
        timer =
            Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "wsreplay close_first timer");
                  t.setDaemon(true);
                  return t;
                });
        timer.schedule(this::closeFirst, wait, TimeUnit.MILLISECONDS);
      }
      if (knobs.recvDelayMs > 0) {
        sleepUntil(openNanos + TimeUnit.MILLISECONDS.toNanos(knobs.recvDelayMs));
      }
      synchronized (lock) {
        recvStarted = true;
        lastActivity = System.nanoTime();
        obs.event("recv_start");
        lock.notifyAll();
      }
    }

    /** One data message (text != null: text, else binary). */
    void onMessage(String text, byte[] binary) {
      boolean atMax;
      long count;
      synchronized (lock) {
        if (stopped || !opened) {
          return; // the application stopped receiving: later messages are not its business
        }
        obs.message(text, binary);
        count = ++received;
        atMax = count >= knobs.maxMessages;
        inCallback = true;
      }
      try {
        if (knobs.echo) {
          recordSend(
              "echo", "type", text != null ? "text" : "binary",
              () -> text != null ? sendText(text) : sendBinary(binary));
        }
        CloseFirst cf = knobs.closeFirst;
        if (cf != null && cf.afterMessages == count) {
          closeFirst();
        }
        if (atMax) {
          synchronized (lock) {
            stopped = true;
            if (end == null) {
              end = "max_messages";
              obs.event("max_messages");
            }
            lock.notifyAll();
          }
        } else if (knobs.recvPaceMs > 0) {
          sleepUntil(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(knobs.recvPaceMs));
        }
      } finally {
        synchronized (lock) {
          inCallback = false;
          lastActivity = System.nanoTime();
          lock.notifyAll();
        }
      }
    }

    /**
     * The library signalled the end of receiving: a close frame arrived (code and reason as the
     * library gives them) or the connection failed (hasClose false, error set).
     */
    void onEnd(
        String callback, boolean hasClose, Integer code, String reason, Throwable error,
        Object... extra) {
      boolean answer;
      synchronized (lock) {
        Map<String, Object> fields = map("callback", callback, "code", code);
        if (hasClose) {
          fields.put("reason", reason);
        }
        fields.putAll(map(extra));
        if (error != null) {
          fields.put("type", error.getClass().getName());
        }
        if (!connectDone) {
          connectDone = true;
          finished = true;
          if (error == null) {
            error = firstError;
          }
          String how = isTimeout(error) ? "connect_timeout" : "connect_failed";
          obs.event(how, fields);
          obs.put("end", how);
          if (error != null) {
            obs.put("error", errorInfo(error));
          } else {
            connectErrorMissing = true;
            obs.put(
                "error",
                map("type", callback, "message", "code " + code + (reason != null ? ": " + reason : "")));
          }
          lock.notifyAll();
          return;
        }
        if (hasClose && closeSource.equals("none") && !aborted) {
          obs.put("close", map("code", code, "reason", reason));
          closeSource = callback;
        } else if (!hasClose && closeSource.equals("none") && !aborted) {
          // The connection ended through a callback that carries no close code at all.
          obs.put("close", map("code", null, "reason", null, "observable", false));
          closeSource = callback + " (no close code in this callback)";
        }
        if (error != null && obs.get("error") == null) {
          obs.put("error", errorInfo(error));
        }
        if (end == null && !stopped) {
          end = "closed";
          stopped = true;
          obs.event("closed", fields);
        } else {
          obs.event("callback", fields);
        }
        answer = hasClose && !answersCloseItself() && !finalCloseCalled && !finished && !aborted;
        if (answer) {
          finalCloseCalled = true;
        }
        lock.notifyAll();
      }
      if (answer) {
        callFinalClose(callback);
      }
    }

    /** One item of the send knob, through the library. */
    private boolean send(SendItem item) throws Exception {
      if (item.text != null) {
        return sendText(item.text);
      }
      if (item.hex != null) {
        return sendBinary(unhex(item.hex));
      }
      return sendPing(item.ping.getBytes(StandardCharsets.UTF_8));
    }

    /** A send of the application's (send knob, echo), recorded once it returned or threw. */
    private void recordSend(String event, String key, String kind, LibraryCall call) {
      Map<String, Object> fields = map(key, kind);
      fields.putAll(outcome(call));
      obs.event(event, fields);
    }

    /** The adapter's own close; ``callback`` names the callback it is made from, if any. */
    private void callFinalClose(String callback) {
      Map<String, Object> event =
          obs.event("close_call", "by", "adapter", "why", "end", "api", finalCloseApi());
      if (callback != null) {
        obs.amend(event, map("in", callback));
      }
      obs.amend(event, outcome(this::finalClose));
    }

    /** The library says the connection is over (nothing more will be called back). */
    void onFinished(
        String callback, boolean hasClose, Integer code, String reason, Throwable error,
        Object... extra) {
      onEnd(callback, hasClose, code, reason, error, extra);
      synchronized (lock) {
        finished = true;
        lock.notifyAll();
      }
    }

    /**
     * The library reported a failure that ends the connection: before the open, connecting failed
     * (with the HTTP status when the library gives one); after it, receiving and the connection end.
     */
    void onFailed(String callback, Throwable error, Integer httpStatus) {
      noteFault(callback, error);
      synchronized (lock) {
        if (!connectDone && httpStatus != null) {
          obs.put("http_status", httpStatus);
        }
      }
      onFinished(callback, false, null, null, error);
    }

    /** Something the library reported without ending the connection (e.g. onError first). */
    void noteError(String callback, Throwable error) {
      noteFault(callback, error);
      synchronized (lock) {
        if (firstError == null) {
          firstError = error;
          lock.notifyAll();
        }
        obs.event("callback", "callback", callback, "type", error.getClass().getName(),
            "message", String.valueOf(error.getMessage()));
        if (connectDone && obs.get("error") == null) {
          obs.put("error", errorInfo(error));
        }
      }
    }

    /**
     * A RuntimeException or Error the library hands to its failure callback was raised inside the
     * library, not by the network or the application: a crash (the callback is where it went).
     */
    private void noteFault(String callback, Throwable error) {
      if (error != null && !callback.equals("connect") && CrashWatch.isFault(error)) {
        CrashWatch.report(error, "raised inside the library, passed to " + callback);
      }
    }

    private void closeFirst() {
      CloseFirst cf = knobs.closeFirst;
      synchronized (lock) {
        if (finished) {
          return;
        }
      }
      Map<String, Object> event =
          obs.event(
              "close_call", "by", "close_first", "why", "knob", "code", cf.code, "reason", cf.reason);
      obs.amend(event, outcome(() -> close(cf.code, cf.reason)));
    }

    private static void sleepUntil(long whenNanos) {
      while (true) {
        long left = whenNanos - System.nanoTime();
        if (left <= 0) {
          return;
        }
        try {
          TimeUnit.NANOSECONDS.sleep(left);
        } catch (InterruptedException ex) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    // -- the main thread

    /** Runs the job to its end; the observation is complete afterwards. */
    void run() throws Exception {
      obs.start();
      try {
        connect();
      } catch (Exception ex) {
        onFailed("connect", ex, null);
      }
      long openBy = Math.min(deadlineNanos, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(OPEN_TIMEOUT_MS));
      // Never call into the library while holding lock: its threads call back into this
      // object while holding their own locks.
      boolean open;
      synchronized (lock) {
        while (!connectDone && waitUntil(openBy)) {
          // waiting for open or failure
        }
        if (!connectDone) {
          // A hang, not a refusal: the adapter's open timeout cut the opening handshake off.
          long waited = TimeUnit.NANOSECONDS.toMillis(openBy - obs.startNanos());
          connectDone = true;
          finished = true;
          obs.event("connect_timeout", "waited_ms", waited);
          obs.put("end", "connect_timeout");
          obs.put("error", map("type", "timeout", "message",
              "the library reported neither open nor failure within " + waited + " ms"));
        }
        open = opened;
        if (open) {
          receive();
        } else if (connectErrorMissing) {
          // Some libraries report the failed connect (close callback) before the exception
          // (error callback) from another thread: give the exception a moment to arrive.
          long graceBy = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(CONNECT_ERROR_GRACE_MS);
          while (firstError == null && waitUntil(graceBy)) {
            // waiting for the error callback
          }
          if (firstError != null) {
            obs.put("error", errorInfo(firstError));
            if (isTimeout(firstError)) {
              obs.put("end", "connect_timeout");
              obs.event("connect_timeout", "callback", "onError", "type", firstError.getClass().getName());
            }
          }
        }
      }
      if (!open) {
        stopTimer();
        abortQuietly();
      } else {
        finish();
      }
      jobOver(open);
      synchronized (lock) {
        if (adapterFault != null) {
          throw new IllegalStateException("the adapter's callback code failed", adapterFault);
        }
        if (opened && !cleanKnown) {
          obs.put("clean_source", "none: the library had not reported the end when the job ended");
        }
      }
    }

    /**
     * The library gave up on the opening handshake because of its own timeout (a read or connect
     * timeout): a hang cut off, like the adapter's own open timeout, not a refusal.
     */
    static boolean isTimeout(Throwable error) {
      return anyCause(
          error,
          t ->
              t instanceof java.net.SocketTimeoutException
                  || t.getClass().getName().endsWith("TimeoutException")
                  || (t instanceof java.io.InterruptedIOException
                      && "timeout".equals(t.getMessage())));
    }

    /** Waits (lock held) until notified or whenNanos; false once whenNanos has passed. */
    private boolean waitUntil(long whenNanos) throws InterruptedException {
      long left = whenNanos - System.nanoTime();
      if (left <= 0) {
        return false;
      }
      TimeUnit.NANOSECONDS.timedWait(lock, left);
      return true;
    }

    private void receive() throws InterruptedException {
      long timeoutNanos = TimeUnit.MILLISECONDS.toNanos(knobs.recvTimeoutMs);
      while (end == null) {
        long now = System.nanoTime();
        if (now >= deadlineNanos) {
          end = "timeout";
          obs.event("timeout", "cause", "the job's deadline_ms");
          break;
        }
        if (!recvStarted || inCallback) {
          waitUntil(deadlineNanos);
          continue;
        }
        long due = lastActivity + timeoutNanos;
        if (now >= due) {
          end = "timeout";
          obs.event("timeout");
          break;
        }
        waitUntil(Math.min(due, deadlineNanos));
      }
      stopped = true;
      obs.put("end", end);
    }

    private void finish() throws InterruptedException {
      stopTimer();
      boolean call;
      synchronized (lock) {
        call = !finalCloseCalled;
        finalCloseCalled = true;
      }
      if (call) {
        callFinalClose(null);
      }
      synchronized (lock) {
        while (!finished && waitUntil(deadlineNanos)) {
          // waiting for the library to finish the closing handshake
        }
        if (!finished) {
          obs.event("close_timeout");
        }
      }
      if (!isFinished()) {
        abortQuietly();
      }
      synchronized (lock) {
        obs.event("close_done", "source", closeSource);
      }
    }

    private boolean isFinished() {
      synchronized (lock) {
        return finished;
      }
    }

    private void stopTimer() {
      if (timer != null) {
        timer.shutdownNow();
      }
    }

    private void abortQuietly() {
      synchronized (lock) {
        aborted = true; // what the library reports after this is the adapter's doing
      }
      try {
        abort();
      } catch (RuntimeException ex) {
        log("abort failed: " + ex);
      }
    }
  }

  // ------------------------------------------------------------------ the loop

  /** Runs one job of a library; returns the observation line. */
  interface Runner {
    CallbackJob make(Job job, Observation obs) throws Exception;
  }

  static Map<String, Object> runJob(String line, Abilities can, Runner runner) {
    Object id = null;
    Observation obs = null;
    try {
      JsonObject raw;
      try {
        raw = JsonParser.parseString(line).getAsJsonObject();
      } catch (JsonParseException | IllegalStateException ex) {
        throw new BadJob("job line is not a JSON object: " + ex.getMessage());
      }
      id = GSON.fromJson(raw.get("id"), Object.class);
      obs = new Observation(id);
      Job job = GSON.fromJson(raw, Job.class);
      List<String> unsupported = can.unsupported(raw.getAsJsonObject("knobs"), job.knobs);
      if (!unsupported.isEmpty()) {
        obs.put("unsupported", unsupported);
        obs.put("end", "unsupported");
        return obs.finish();
      }
      CrashWatch.begin(obs);
      try {
        runner.make(job, obs).run();
      } finally {
        CrashWatch.done(obs);
      }
      return obs.finish();
    } catch (Throwable ex) {
      String message;
      if (ex instanceof BadJob) {
        log("bad job " + id + ": " + ex.getMessage());
        message = "bad job: " + ex.getMessage();
      } else {
        log("adapter error on job " + id + ": " + traceback(ex));
        message = traceback(ex);
      }
      if (obs == null) {
        obs = new Observation(id);
      }
      obs.put("end", "adapter_error");
      obs.put("error", map("type", ex.getClass().getName(), "message", message));
      return obs.finish();
    }
  }

  /** Reads job lines until EOF, one observation line out per job. */
  static void serve(Out out, Abilities can, Runner runner) throws IOException {
    CrashWatch.install();
    BufferedReader in = jobReader();
    String line;
    while ((line = in.readLine()) != null) {
      line = line.trim();
      if (line.isEmpty()) {
        continue;
      }
      out.emit(runJob(line, can, runner));
    }
  }
}
