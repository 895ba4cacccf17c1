// RAII for libuv handles. libuv requires a handle's memory to stay valid
// until its close callback has run, so the handle lives on the heap, never
// moves, and is freed in that callback. Destroying a UvHandle only schedules
// the close: the owner must run the loop until close callbacks are done
// (uv_run after uv_stop / at shutdown) for the memory to be released.
#pragma once

#include <uv.h>

#include <utility>

namespace observer {

template <class H>
class UvHandle {
 public:
  UvHandle() = default;
  ~UvHandle() { close(); }
  UvHandle(const UvHandle&) = delete;
  UvHandle& operator=(const UvHandle&) = delete;
  UvHandle(UvHandle&& o) noexcept : h_(std::exchange(o.h_, nullptr)) {}
  UvHandle& operator=(UvHandle&& o) noexcept {
    if (this != &o) {
      close();
      h_ = std::exchange(o.h_, nullptr);
    }
    return *this;
  }

  // Allocates the handle and runs `init(H*)` (e.g. uv_timer_init). Returns
  // init's result; on failure nothing is kept. `data` becomes handle->data.
  template <class Init>
  int init(Init&& init_fn, void* data) {
    close();
    H* h = new H();
    int rc = init_fn(h);
    if (rc != 0) {
      delete h;
      return rc;
    }
    h->data = data;
    h_ = h;
    return 0;
  }

  H* get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

  // Schedules uv_close; the memory is freed in the close callback.
  void close() {
    if (h_ == nullptr) return;
    auto* base = reinterpret_cast<uv_handle_t*>(std::exchange(h_, nullptr));
    base->data = nullptr;
    if (!uv_is_closing(base)) uv_close(base, [](uv_handle_t* h) { delete reinterpret_cast<H*>(h); });
  }

 private:
  H* h_ = nullptr;
};

}  // namespace observer
