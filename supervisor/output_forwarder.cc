#include "supervisor/output_forwarder.h"

namespace observer {

int OutputForwarder::init(uv_loop_t* loop) {
  return pipe_.init([loop](uv_pipe_t* p) { return uv_pipe_init(loop, p, 0); }, this);
}

int OutputForwarder::start() {
  return uv_read_start(stream(), &OutputForwarder::on_uv_alloc, &OutputForwarder::on_uv_read);
}

void OutputForwarder::on_uv_alloc(uv_handle_t* handle, size_t, uv_buf_t* buf) noexcept {
  auto* self = static_cast<OutputForwarder*>(handle->data);
  *buf = uv_buf_init(self->buffer_.data(), static_cast<unsigned>(self->buffer_.size()));
}

void OutputForwarder::on_uv_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<OutputForwarder*>(stream->data);
  if (self == nullptr) return;
  if (nread > 0) {
    self->splitter_.feed(buf->base, static_cast<size_t>(nread),
                         [self](std::string line) { self->out_->write_line(std::move(line)); });
    return;
  }
  // 0 is EAGAIN; any negative value (UV_EOF, a read error) ends the stream.
  if (nread < 0) self->finish();
}

void OutputForwarder::close() { finish(); }

void OutputForwarder::finish() {
  if (done_) return;
  done_ = true;
  std::string last;
  if (splitter_.take_partial(&last)) out_->write_line(std::move(last));
  pipe_.close();
  if (on_done_) on_done_();
}

}  // namespace observer
