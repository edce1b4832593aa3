// The blocking form of an async call: starts it with a callback that
// fulfils a promise, and waits. The async call must always complete.
#pragma once

#include <functional>
#include <future>
#include <memory>

namespace dengine::node {

template <typename T, typename Start>
T wait_for(Start start) {
  auto promise = std::make_shared<std::promise<T>>();
  std::future<T> future = promise->get_future();
  start([promise](T value) { promise->set_value(std::move(value)); });
  return future.get();
}

}  // namespace dengine::node
