#include "node/gateway/gateway.h"

#include <poll.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "httplib.h"
#include "base/check.h"
#include "node/gateway/go_json_scan.h"
#include "node/gateway/json_codec.h"

namespace keel::node::gateway {
namespace {

// How often a thread waiting for a gRPC call looks whether its HTTP client went away.
constexpr absl::Duration kClientPollInterval = absl::Milliseconds(200);
constexpr char kJson[] = "application/json";
constexpr int kResourceExhausted = 8;
constexpr int kUnknown = 2;
constexpr int kInvalidArgument = 3;
constexpr int kInternal = 13;

// True once the peer closed or reset the connection (its FIN is enough: Go's server
// cancels the request context on it too).
bool ClientGone(int fd) {
  if (fd < 0) return false;
  pollfd p = {fd, POLLRDHUP, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR | POLLNVAL));
}

grpc::ByteBuffer ToByteBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string Flatten(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string out;
  if (!buffer.Dump(&slices).ok()) return out;
  for (const grpc::Slice& s : slices)
    out.append(reinterpret_cast<const char*>(s.begin()), s.size());
  return out;
}

// The response bytes as grpc-gateway's JSON; a response that does not parse is the
// server's bug, reported as Internal.
bool ResponseJson(const Route& route, const std::string& bytes, std::string* json) {
  std::unique_ptr<google::protobuf::Message> message(route.response_prototype->New());
  if (!message->ParseFromString(bytes)) return false;
  *json = MessageToJson(*message);
  return true;
}

// Headers every answer of etcd's client port carries (etcd's WrapCORS with the default
// --cors "*") and the gateway's forwarded gRPC response header.
void AddEtcdHeaders(httplib::Response& res, bool grpc_answered) {
  res.set_header("Access-Control-Allow-Headers", "accept, content-type, authorization");
  res.set_header("Access-Control-Allow-Methods", "POST, GET, OPTIONS, PUT, DELETE");
  res.set_header("Access-Control-Allow-Origin", "*");
  if (grpc_answered) res.set_header("Grpc-Metadata-Content-Type", "application/grpc");
}

void AnswerError(httplib::Response& res, int code, std::string_view message) {
  AddEtcdHeaders(res, /*grpc_answered=*/false);
  res.status = HttpStatusFromCode(code);
  res.set_content(ErrorBodyJson(code, message), kJson);
}

// grpc-gateway's incoming header rule: Authorization becomes `authorization` metadata,
// `Grpc-Metadata-<key>` becomes `<key>`; nothing else is forwarded. Keys or values gRPC
// would reject are skipped.
void ForwardMetadata(const httplib::Request& req, grpc::ClientContext* context) {
  constexpr absl::string_view kPrefix = "grpc-metadata-";
  for (const auto& [name, value] : req.headers) {
    std::string key = absl::AsciiStrToLower(name);
    if (key != "authorization") {
      if (!absl::StartsWith(key, kPrefix)) continue;
      key = key.substr(kPrefix.size());
    }
    const bool key_ok =
        !key.empty() && !absl::EndsWith(key, "-bin") &&
        key.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789-_.") == std::string::npos;
    bool value_ok = true;
    for (char c : value) value_ok = value_ok && c >= 0x20 && c < 0x7f;
    if (key_ok && value_ok) context->AddMetadata(key, value);
  }
}

// State shared by the stream's gRPC callbacks and the HTTP thread waiting for them
// (shared, so neither side destroys the mutex under the other).
struct StreamState {
  absl::Mutex mu;
  std::deque<std::string> responses ABSL_GUARDED_BY(mu);  // serialized, bounded
  bool read_paused ABSL_GUARDED_BY(mu) = false;           // queue full: no read outstanding
  bool reads_ended ABSL_GUARDED_BY(mu) = false;           // the server finished sending
  bool done ABSL_GUARDED_BY(mu) = false;                  // OnDone ran: `status` is final
  grpc::Status status ABSL_GUARDED_BY(mu);
};

// One streaming call. It holds itself open (AddHold) until the HTTP side calls Release,
// so StartRead/TryCancel from the HTTP thread never race with its end; it deletes itself
// in OnDone.
class StreamCall final : public grpc::ClientBidiReactor<grpc::ByteBuffer, grpc::ByteBuffer> {
 public:
  StreamCall(std::shared_ptr<StreamState> state, std::vector<grpc::ByteBuffer> requests,
             size_t queue_limit)
      : state_(std::move(state)), requests_(std::move(requests)), queue_limit_(queue_limit) {}

  void Start(grpc::GenericStub* stub, const std::string& method, const httplib::Request& req) {
    ForwardMetadata(req, &context_);
    stub->PrepareBidiStreamingCall(&context_, method, grpc::StubOptions(), this);
    AddHold();
    StartRead(&read_buffer_);
    // grpc-gateway closes the send side once the body is consumed (watch streams stay
    // open: etcd keeps a half-closed watch stream serving).
    if (requests_.empty()) {
      StartWritesDone();
    } else {
      StartWrite(&requests_[0]);
    }
    StartCall();
  }

  // HTTP thread, before Release only.
  void ResumeReading() { StartRead(&read_buffer_); }
  void Cancel() { context_.TryCancel(); }
  // HTTP thread, once: after it, `this` may be gone (OnDone deletes it).
  void Release() { RemoveHold(); }

  void OnWriteDone(bool ok) override {
    if (!ok) return;  // the call is ending; OnDone follows
    if (++next_write_ < requests_.size()) {
      StartWrite(&requests_[next_write_]);
    } else {
      StartWritesDone();
    }
  }

  void OnReadDone(bool ok) override {
    bool more = false;
    {
      absl::MutexLock lock(&state_->mu);
      if (!ok) {
        state_->reads_ended = true;
        return;
      }
      state_->responses.push_back(Flatten(read_buffer_));
      more = state_->responses.size() < queue_limit_;
      state_->read_paused = !more;
    }
    if (more) StartRead(&read_buffer_);
  }

  void OnDone(const grpc::Status& status) override {
    {
      absl::MutexLock lock(&state_->mu);
      state_->reads_ended = true;
      state_->status = status;
      state_->done = true;
    }
    delete this;
  }

 private:
  const std::shared_ptr<StreamState> state_;
  grpc::ClientContext context_;
  std::vector<grpc::ByteBuffer> requests_;
  size_t next_write_ = 0;
  const size_t queue_limit_;
  grpc::ByteBuffer read_buffer_;
};

// The HTTP side of one stream: takes responses in order, ends the call exactly once
// (also when httplib drops the response without writing it).
class StreamSession {
 public:
  StreamSession(StreamCall* call, std::shared_ptr<StreamState> state, int fd,
                std::atomic<size_t>* active)
      : call_(call), state_(std::move(state)), fd_(fd), active_(active) {}
  ~StreamSession() {
    Finish(/*cancel=*/true);
    active_->fetch_sub(1);
  }

  enum class Next { kMessage, kEnded, kClientGone };
  // Waits for the next response (bounded by the call's end or the client's).
  Next Wait(std::string* out) {
    // Bounded: ends on a response, the stream's end, or the client's.
    while (true) {
      bool resume = false;
      bool got = false;
      {
        absl::MutexLock lock(&state_->mu);
        auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(state_->mu) {
          return !state_->responses.empty() || state_->reads_ended;
        };
        state_->mu.AwaitWithTimeout(absl::Condition(&ready), kClientPollInterval);
        if (!state_->responses.empty()) {
          *out = std::move(state_->responses.front());
          state_->responses.pop_front();
          got = true;
          if (state_->read_paused) {
            state_->read_paused = false;
            resume = true;
          }
        } else if (state_->reads_ended) {
          return Next::kEnded;
        }
      }
      if (resume) call_->ResumeReading();
      if (got) return Next::kMessage;
      if (ClientGone(fd_)) return Next::kClientGone;
    }
  }

  // Ends the call (cancelling it first if asked) and returns its status. Idempotent.
  grpc::Status Finish(bool cancel) {
    if (call_ != nullptr) {
      if (cancel) call_->Cancel();
      call_->Release();
      call_ = nullptr;
    }
    absl::MutexLock lock(&state_->mu);
    state_->mu.Await(absl::Condition(&state_->done));
    return state_->status;
  }

 private:
  StreamCall* call_;  // valid until Release
  const std::shared_ptr<StreamState> state_;
  const int fd_;
  std::atomic<size_t>* const active_;
};

std::string ResultLine(const std::string& json) {
  return absl::StrCat("{\"result\":", json, "}\n");
}

// HTTP/1.1 chunked transfer written straight to a blocking socket, each write bounded by
// kWriteTimeoutMs (a client that stops reading for that long loses its stream).
class ChunkedWriter {
 public:
  static constexpr int kWriteTimeoutMs = 5000;
  explicit ChunkedWriter(int fd) : fd_(fd) {}

  bool WriteHead() {
    return WriteAll(
        "HTTP/1.1 200 OK\r\n"
        "Access-Control-Allow-Headers: accept, content-type, authorization\r\n"
        "Access-Control-Allow-Methods: POST, GET, OPTIONS, PUT, DELETE\r\n"
        "Access-Control-Allow-Origin: *\r\n"
        "Content-Type: application/json\r\n"
        "Grpc-Metadata-Content-Type: application/grpc\r\n"
        "Connection: close\r\n"
        "Transfer-Encoding: chunked\r\n\r\n");
  }
  // An empty `data` is the last chunk.
  bool WriteChunk(std::string_view data) {
    char size[32];
    std::snprintf(size, sizeof(size), "%zx\r\n", data.size());
    std::string chunk = size;
    chunk.append(data.data(), data.size());
    chunk.append("\r\n");
    return WriteAll(chunk);
  }

 private:
  bool WriteAll(std::string_view bytes) {
    // Bounded: each pass sends at least one byte or fails.
    while (!bytes.empty()) {
      pollfd p = {fd_, POLLOUT, 0};
      if (::poll(&p, 1, kWriteTimeoutMs) <= 0) return false;
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  const int fd_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Gateway>> Gateway::Create(
    std::shared_ptr<grpc::ChannelInterface> channel, Options options) {
  absl::StatusOr<absl::flat_hash_map<std::string, Route>> routes = ResolveRoutes();
  if (!routes.ok()) return routes.status();
  KEEL_CHECK(options.stream_queue_messages > 0 && options.max_stream_requests > 0);
  return std::unique_ptr<Gateway>(new Gateway(std::move(channel), options, *std::move(routes)));
}

Gateway::Gateway(std::shared_ptr<grpc::ChannelInterface> channel, Options options,
                 absl::flat_hash_map<std::string, Route> routes)
    : channel_(channel), stub_(channel), options_(options), routes_(std::move(routes)) {}

int Gateway::CurrentFd() const {
  return options_.current_connection_fd != nullptr ? options_.current_connection_fd() : -1;
}

void Gateway::Register(httplib::Server* http) {
  http->set_payload_max_length(options_.max_body_bytes);
  constexpr char kGatewayPaths[] = R"(/v3(beta)?/.*)";
  http->Post(kGatewayPaths,
             [this](const httplib::Request& req, httplib::Response& res) { Serve(req, res); });
  // grpc-gateway: a known path with another method is 405, an unknown one 404.
  auto not_post = [this](const httplib::Request& req, httplib::Response& res) {
    std::string path = req.path;
    if (absl::StartsWith(path, "/v3beta/")) path.replace(0, 8, "/v3/");
    AddEtcdHeaders(res, false);
    const bool known = routes_.contains(path);
    res.status = known ? 405 : 404;
    res.set_content(known ? "Method Not Allowed\n" : "Not Found\n", "text/plain; charset=utf-8");
  };
  http->Get(kGatewayPaths, not_post);
  http->Put(kGatewayPaths, not_post);
  http->Delete(kGatewayPaths, not_post);
  http->Patch(kGatewayPaths, not_post);
  // etcd's /version (etcdhttp.versionHandler): GET only.
  http->Get("/version", [](const httplib::Request&, httplib::Response& res) {
    AddEtcdHeaders(res, false);
    res.set_content(kVersionJson, kJson);
  });
  auto version_not_get = [](const httplib::Request&, httplib::Response& res) {
    AddEtcdHeaders(res, false);
    res.status = 405;
    res.set_header("Allow", "GET");
    res.set_content("Method Not Allowed\n", "text/plain; charset=utf-8");
  };
  http->Post("/version", version_not_get);
  http->Put("/version", version_not_get);
  http->Delete("/version", version_not_get);
}

void Gateway::Serve(const httplib::Request& req, httplib::Response& res) {
  std::string path = req.path;
  // etcd's accessController: /v3beta/ is /v3/ before routing.
  if (absl::StartsWith(path, "/v3beta/")) path.replace(0, 8, "/v3/");
  auto it = routes_.find(path);
  if (it == routes_.end()) {
    AddEtcdHeaders(res, false);
    res.status = 404;
    res.set_content("Not Found\n", "text/plain; charset=utf-8");
    return;
  }
  if (it->second.streaming) {
    ServeStream(it->second, req, res);
  } else {
    ServeUnary(it->second, req, res);
  }
}

void Gateway::ServeUnary(const Route& route, const httplib::Request& req, httplib::Response& res) {
  // One value; the rest of the body is never read (a Decoder asked once).
  JsonScan scan = ScanJsonValues(req.body, 1);
  if (!scan.error.empty()) return AnswerError(res, kInvalidArgument, scan.error);
  std::unique_ptr<google::protobuf::Message> request(route.request_prototype->New());
  if (!scan.values.empty()) {  // an empty body is an empty request (io.EOF is not an error)
    absl::Status parsed = JsonToMessage(scan.values[0], request.get());
    if (!parsed.ok()) return AnswerError(res, kInvalidArgument, std::string(parsed.message()));
  }
  const grpc::ByteBuffer request_bytes = ToByteBuffer(request->SerializeAsString());
  grpc::ByteBuffer response_bytes;
  grpc::ClientContext context;
  ForwardMetadata(req, &context);
  // The call's completion queue is polled by this thread itself: no gRPC callback thread
  // between the answer and the HTTP reply (one thread hop less per request than the
  // callback API, which measured ~1.5 ms on a loaded machine).
  grpc::CompletionQueue cq;
  std::unique_ptr<grpc::GenericClientAsyncResponseReader> call =
      stub_.PrepareUnaryCall(&context, route.grpc_method, request_bytes, &cq);
  call->StartCall();
  grpc::Status status;
  call->Finish(&response_bytes, &status, /*tag=*/&status);
  const int fd = CurrentFd();
  bool cancelled = false;
  // Bounded by the call: it ends with its answer, or promptly once cancelled.
  while (true) {
    void* tag = nullptr;
    bool ok = false;
    const auto next = cq.AsyncNext(
        &tag, &ok,
        std::chrono::system_clock::now() + absl::ToChronoMilliseconds(kClientPollInterval));
    if (next == grpc::CompletionQueue::GOT_EVENT) break;  // the only tag: Finish
    KEEL_CHECK(next == grpc::CompletionQueue::TIMEOUT);
    if (!cancelled && ClientGone(fd)) {
      context.TryCancel();
      cancelled = true;
    }
  }
  cq.Shutdown();
  {
    void* tag = nullptr;
    bool ok = false;
    // Drains the shut-down queue (nothing else was queued on it).
    while (cq.Next(&tag, &ok)) {
    }
  }
  if (!status.ok()) {
    return AnswerError(res, status.error_code(), status.error_message());
  }
  std::string json;
  if (!ResponseJson(route, Flatten(response_bytes), &json)) {
    return AnswerError(res, kInternal, "gateway: cannot parse the gRPC response");
  }
  AddEtcdHeaders(res, /*grpc_answered=*/true);
  res.set_content(json, kJson);
}

void Gateway::ServeStream(const Route& route, const httplib::Request& req, httplib::Response& res) {
  JsonScan scan =
      ScanJsonValues(req.body, route.client_streaming ? options_.max_stream_requests : 1);
  std::vector<grpc::ByteBuffer> requests;
  for (std::string_view value : scan.values) {
    std::unique_ptr<google::protobuf::Message> request(route.request_prototype->New());
    absl::Status parsed = JsonToMessage(value, request.get());
    if (!parsed.ok()) {
      // The first value is decoded before the call starts; a later bad one only stops the
      // sending (grpc-gateway's send loop breaks on it).
      if (requests.empty()) return AnswerError(res, kUnknown, std::string(parsed.message()));
      scan.error.clear();
      break;
    }
    requests.push_back(ToByteBuffer(request->SerializeAsString()));
  }
  if (requests.empty() && !scan.error.empty()) return AnswerError(res, kUnknown, scan.error);
  if (!route.client_streaming && requests.empty()) {
    // A server-streaming call needs its request: an empty body is the empty message.
    std::unique_ptr<google::protobuf::Message> empty(route.request_prototype->New());
    requests.push_back(ToByteBuffer(empty->SerializeAsString()));
  }
  if (active_streams_.fetch_add(1) >= options_.max_streams) {
    active_streams_.fetch_sub(1);
    return AnswerError(res, kResourceExhausted, "etcdserver: too many requests");
  }
  auto state = std::make_shared<StreamState>();
  auto* call = new StreamCall(state, std::move(requests), options_.stream_queue_messages);
  call->Start(&stub_, route.grpc_method, req);
  const int session_fd = CurrentFd();
  auto session = std::make_unique<StreamSession>(call, state, session_fd, &active_streams_);

  // The status line waits for the first response: a call failing before it answers gets
  // its HTTP status, as grpc-gateway writes the header only with the first chunk.
  std::string first;
  const StreamSession::Next next = session->Wait(&first);
  if (next == StreamSession::Next::kClientGone) {
    session.reset();   // cancels the call
    res.status = 408;  // written to a closed connection
    return;
  }
  std::string first_line;
  if (next == StreamSession::Next::kEnded) {
    const grpc::Status status = session->Finish(/*cancel=*/false);
    AddEtcdHeaders(res, status.ok());
    if (!status.ok()) {
      res.status = HttpStatusFromCode(status.error_code());
      res.set_content(StreamErrorJson(status.error_code(), status.error_message()), kJson);
    } else {
      res.set_content("", kJson);
    }
    return;
  }
  if (!ResponseJson(route, first, &first_line)) {
    session.reset();
    return AnswerError(res, kInternal, "gateway: cannot parse the gRPC response");
  }
  if (session_fd < 0) {
    // Not on a handed-over connection (no socket to stream on): cannot happen in keeld,
    // where the gateway is registered on the client port only.
    session.reset();
    return AnswerError(res, kInternal, "gateway: streaming needs the client port");
  }
  // The stream is written here, on the connection itself: httplib's content providers
  // only run inside httplib's own listen loop, and connections handed over by the client
  // port are served outside it. The connection ends with the stream ("Connection: close",
  // then our write side is shut, so httplib's own answer to this request goes nowhere).
  ChunkedWriter out(session_fd);
  bool ok = out.WriteHead() && out.WriteChunk(ResultLine(first_line));
  // Bounded by the stream: ends with the call, a failed write, or the client.
  while (ok) {
    std::string bytes;
    const StreamSession::Next step = session->Wait(&bytes);
    if (step == StreamSession::Next::kClientGone) ok = false;
    if (step != StreamSession::Next::kMessage) break;
    std::string json;
    ok = ResponseJson(route, bytes, &json) && out.WriteChunk(ResultLine(json));
  }
  if (ok) {
    const grpc::Status status = session->Finish(/*cancel=*/false);
    if (!status.ok()) {
      ok = out.WriteChunk(StreamErrorJson(status.error_code(), status.error_message()));
    }
    if (ok) out.WriteChunk("");  // the last chunk
  }
  session.reset();  // cancels the call if it is still running
  ::shutdown(session_fd, SHUT_WR);
  res.status = 200;
}

}  // namespace keel::node::gateway
