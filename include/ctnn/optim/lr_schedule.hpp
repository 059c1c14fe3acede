#pragma once
// Learning-rate schedules as torch.optim.lr_scheduler defines them, stepped once per epoch (or
// per iteration, as the caller decides). Each computes PyTorch's recursive ("chainable") form,
// so the sequence of rates matches scheduler.get_last_lr() after each scheduler.step().
//
//   ctnn::optim::CosineAnnealingLR schedule(0.1, /*t_max=*/90, /*eta_min=*/0.0);
//   for (epoch ...) { train_one_epoch(sgd); schedule.step(); sgd.set_learning_rate(schedule.lr()); }
//   // or schedule.step(sgd), which does both
//
//   StepLR             lr_e = base_lr * gamma^floor(e / step_size)
//   CosineAnnealingLR  lr_e = eta_min + (base_lr - eta_min) * (1 + cos(pi * e / t_max)) / 2
//                      (closed form; continuing past t_max it rises again, as PyTorch's does)

#include <cmath>     // std::cos, std::pow
#include <cstddef>   // std::size_t
#include <numbers>   // std::numbers::pi

#include <ctnn/error.hpp>   // ctnn::Error

namespace ctnn::optim {

class StepLR {
 public:
  StepLR(double base_lr, std::size_t step_size, double gamma = 0.1)
      : base_lr_(base_lr), lr_(base_lr), step_size_(step_size), gamma_(gamma) {
    if (step_size == 0) throw Error("StepLR", "step_size must be positive");
  }

  // Advances one epoch; returns the new rate.
  double step() {
    ++epoch_;
    if (epoch_ % step_size_ == 0) lr_ *= gamma_;
    return lr_;
  }
  template <class Optimizer>
  double step(Optimizer& optimizer) {
    optimizer.set_learning_rate(step());
    return lr_;
  }

  double lr() const { return lr_; }
  std::size_t epoch() const { return epoch_; }
  double base_lr() const { return base_lr_; }
  // PyTorch's _get_closed_form_lr at `epoch`.
  double closed_form(std::size_t epoch) const {
    return base_lr_ * std::pow(gamma_, static_cast<double>(epoch / step_size_));
  }
  // Resuming from a checkpoint: the epoch reached and the rate it had.
  void restore(std::size_t epoch, double lr) {
    epoch_ = epoch;
    lr_ = lr;
  }

 private:
  double base_lr_, lr_;
  std::size_t step_size_;
  double gamma_;
  std::size_t epoch_ = 0;
};

class CosineAnnealingLR {
 public:
  CosineAnnealingLR(double base_lr, std::size_t t_max, double eta_min = 0.0)
      : base_lr_(base_lr), lr_(base_lr), t_max_(t_max), eta_min_(eta_min) {
    if (t_max == 0) throw Error("CosineAnnealingLR", "t_max must be positive");
  }

  // Advances one epoch; returns the new rate (PyTorch's get_lr).
  double step() {
    ++epoch_;
    const double pi = std::numbers::pi, e = static_cast<double>(epoch_), t = static_cast<double>(t_max_);
    if ((epoch_ - 1 + t_max_) % (2 * t_max_) == 0) {
      // (epoch - 1 - t_max) % (2 t_max) == 0: the bottom of a cosine, where the ratio below
      // would divide by zero.
      lr_ = lr_ + (base_lr_ - eta_min_) * (1 - std::cos(pi / t)) / 2;
    } else {
      lr_ = (1 + std::cos(pi * e / t)) / (1 + std::cos(pi * (e - 1) / t)) * (lr_ - eta_min_) + eta_min_;
    }
    return lr_;
  }
  template <class Optimizer>
  double step(Optimizer& optimizer) {
    optimizer.set_learning_rate(step());
    return lr_;
  }

  double lr() const { return lr_; }
  std::size_t epoch() const { return epoch_; }
  double base_lr() const { return base_lr_; }
  // PyTorch's _get_closed_form_lr at `epoch`.
  double closed_form(std::size_t epoch) const {
    const double pi = std::numbers::pi;
    return eta_min_ + (base_lr_ - eta_min_) * (1 + std::cos(pi * static_cast<double>(epoch) / static_cast<double>(t_max_))) / 2;
  }
  void restore(std::size_t epoch, double lr) {
    epoch_ = epoch;
    lr_ = lr;
  }

 private:
  double base_lr_, lr_;
  std::size_t t_max_;
  double eta_min_;
  std::size_t epoch_ = 0;
};

}  // namespace ctnn::optim
