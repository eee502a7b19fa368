#pragma once
// A small HTTP/1.1 server for the download tests, in the test's own process: it listens on 127.0.0.1 only,
// on a free port the kernel picks, serves one request per connection, and misbehaves on request: replies
// cut short, stalls, 404s, the whole server going down mid-transfer and coming back on the same port, Range
// requests honoured or ignored. Every wait in it is bounded (a stalled reply gives up after 60 s at most,
// and at once when the server is destroyed), so a test can never hang on it.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace biascka::test {

struct Route {
  std::string body;
  int status = 200;          // another status (404, 503, ...): that reply, with no body
  bool ranges = true;        // honour "Range: bytes=N-" with 206 (else 200 and the whole body)
  int64_t cut_after = -1;    // close the connection after this many body bytes ...
  int cut_times = 0;         // ... in this many replies (then serve normally)
  int64_t stall_after = -1;  // stop sending at this byte of the file (every reply, ranged ones included)
                             // and hold the connection open
  int64_t die_after = -1;    // after this many body bytes of the first reply the server goes down: the
  double down_for_s = 0.5;   // listener closes, this connection is reset; it listens again after down_for_s
};

class HttpTestServer {
 public:
  HttpTestServer() {
    listen_now();
    accept_thread_ = std::thread([this] { accept_loop(); });
  }
  ~HttpTestServer() {
    stopping_ = true;
    {
      std::lock_guard<std::mutex> g(mu_);
      if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
    }
    accept_thread_.join();
    for (auto& t : workers_) t.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
  }
  HttpTestServer(const HttpTestServer&) = delete;
  HttpTestServer& operator=(const HttpTestServer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_) + "/"; }

  void route(const std::string& path, Route r) {
    std::lock_guard<std::mutex> g(mu_);
    routes_[path] = std::move(r);
    replies_[path] = 0;
  }
  int requests(const std::string& path) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = ranges_.find(path);
    return it == ranges_.end() ? 0 : static_cast<int>(it->second.size());
  }
  // The Range header of each request for `path`, in order ("" when it had none).
  std::vector<std::string> ranges(const std::string& path) const {
    std::lock_guard<std::mutex> g(mu_);
    auto it = ranges_.find(path);
    return it == ranges_.end() ? std::vector<std::string>{} : it->second;
  }

 private:
  void listen_now() {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::runtime_error("test server: socket() failed");
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(static_cast<uint16_t>(port_));
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
      ::close(fd);
      throw std::runtime_error(std::string("test server: cannot listen: ") + std::strerror(errno));
    }
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    std::lock_guard<std::mutex> g(mu_);
    listen_fd_ = fd;
  }

  void accept_loop() {
    while (!stopping_) {
      int fd;
      std::chrono::steady_clock::time_point up_at;
      {
        std::lock_guard<std::mutex> g(mu_);
        fd = listen_fd_;
        up_at = up_at_;
      }
      if (fd < 0) {  // down: come back when the time has come
        if (std::chrono::steady_clock::now() >= up_at)
          listen_now();
        else
          std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      if (going_down_) {  // a reply shut the listener: close it and stay down for a while
        std::lock_guard<std::mutex> g(mu_);
        ::close(listen_fd_);
        listen_fd_ = -1;
        going_down_ = false;
        continue;
      }
      const int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0) workers_.emplace_back([this, c] { serve(c); });
    }
  }

  // Sends all of [p, p+n) unless the peer goes away or the server stops.
  bool send_all(int fd, const char* p, size_t n) {
    while (n > 0 && !stopping_) {
      const ssize_t k = ::send(fd, p, n, MSG_NOSIGNAL);
      if (k <= 0) return false;
      p += k;
      n -= static_cast<size_t>(k);
    }
    return n == 0;
  }

  static std::string header_value(const std::string& req, const std::string& name) {
    const size_t at = req.find("\r\n" + name + ":");
    if (at == std::string::npos) return "";
    size_t from = at + name.size() + 3;
    while (from < req.size() && req[from] == ' ') ++from;
    return req.substr(from, req.find("\r\n", from) - from);
  }

  void serve(int fd) {
    std::string req;
    char buf[4096];
    while (req.find("\r\n\r\n") == std::string::npos && req.size() < 16384 && !stopping_) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, 5000) <= 0) break;
      const ssize_t k = ::recv(fd, buf, sizeof buf, 0);
      if (k <= 0) break;
      req.append(buf, static_cast<size_t>(k));
    }
    const size_t sp1 = req.find(' '), sp2 = req.find(' ', sp1 + 1);
    const std::string path = sp1 == std::string::npos ? "" : req.substr(sp1 + 1, sp2 - sp1 - 1);
    const std::string range = header_value(req, "Range");
    Route r;
    int reply = 0;
    bool found = false;
    {
      std::lock_guard<std::mutex> g(mu_);
      ranges_[path].push_back(range);
      if (auto it = routes_.find(path); it != routes_.end()) {
        r = it->second;
        reply = replies_[path]++;
        found = true;
      }
    }
    if (!found) r.status = 404;
    if (r.status != 200) {
      const std::string head = "HTTP/1.1 " + std::to_string(r.status) + " Error\r\nContent-Length: 0\r\n" +
                               "Connection: close\r\n\r\n";
      send_all(fd, head.data(), head.size());
      ::close(fd);
      return;
    }
    const int64_t total = static_cast<int64_t>(r.body.size());
    int64_t from = 0;
    if (r.ranges && range.rfind("bytes=", 0) == 0) from = std::stoll(range.substr(6));
    std::string head;
    if (from > 0 && from >= total) {
      head = "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
      send_all(fd, head.data(), head.size());
      ::close(fd);
      return;
    }
    if (from > 0)
      head = "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes " + std::to_string(from) + "-" +
             std::to_string(total - 1) + "/" + std::to_string(total) + "\r\n";
    else
      head = "HTTP/1.1 200 OK\r\n";
    head += "Content-Length: " + std::to_string(total - from) + "\r\nConnection: close\r\n\r\n";
    if (!send_all(fd, head.data(), head.size())) {
      ::close(fd);
      return;
    }
    int64_t limit = total - from;  // body bytes to send before misbehaving
    enum { kNone, kCut, kStall, kDie } act = kNone;
    auto consider = [&](int64_t after, decltype(act) what, bool active) {
      if (active && after >= 0 && after < limit) {
        limit = after;
        act = what;
      }
    };
    consider(r.cut_after, kCut, reply < r.cut_times);
    consider(std::max<int64_t>(r.stall_after - from, 0), kStall, r.stall_after >= 0);
    consider(r.die_after, kDie, reply == 0);
    send_all(fd, r.body.data() + from, static_cast<size_t>(limit));
    if (act == kStall) {  // hold the connection until the client gives up or the server stops
      const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (!stopping_ && std::chrono::steady_clock::now() < give_up) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 50) > 0 && ::recv(fd, buf, sizeof buf, 0) <= 0) break;
      }
    } else if (act == kDie) {
      {
        std::lock_guard<std::mutex> g(mu_);
        up_at_ = std::chrono::steady_clock::now() +
                 std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                     std::chrono::duration<double>(r.down_for_s));
        going_down_ = true;
        if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // refuses new connections at once
      }
      const linger reset{1, 0};  // close with RST, as a killed process's socket
      ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    }
    ::close(fd);
  }

  mutable std::mutex mu_;
  int listen_fd_ = -1, port_ = 0;
  std::atomic<bool> stopping_{false}, going_down_{false};
  std::chrono::steady_clock::time_point up_at_{};
  std::thread accept_thread_;
  std::vector<std::thread> workers_;  // only the accept thread adds to it
  std::map<std::string, Route> routes_;
  std::map<std::string, int> replies_;
  std::map<std::string, std::vector<std::string>> ranges_;
};

}  // namespace biascka::test
