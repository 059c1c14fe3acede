#pragma once
// Classification losses: softmax cross-entropy as PyTorch's F.cross_entropy (mean over the
// batch), GoogLeNet's training objective with its auxiliary heads, the predicted classes and top-1
// accuracy.
//
//   T loss = ctnn::cross_entropy<T>(logits, labels, classes, dlogits);
//     logits [N, C], labels N int32 in [0, C), dlogits [N, C] (or empty: loss only)
//     loss    = mean_n( logsumexp(logits_n) - logits_n[label_n] )
//     dlogits = (softmax(logits_n) - onehot(label_n)) / N, times gradient_scale
//
//   ctnn::ClassificationObjective<T> objective;          // aux weight 0.3, as in GoogLeNet
//   model.train(); model.forward(images);
//   auto loss = objective.backward(model, labels);        // main + 0.3 * (aux1 + aux2)
//   loss.total, loss.main, loss.aux[k]
//
//   std::vector<std::int32_t> classes = ctnn::predicted_classes<T>(logits, C);   // argmax per example

#include <algorithm>   // std::max, std::fill_n
#include <array>       // std::array
#include <cmath>       // std::exp, std::log
#include <cstddef>     // std::size_t
#include <cstdint>     // std::int32_t
#include <span>        // std::span
#include <string>      // std::to_string
#include <vector>      // std::vector

#include <ctnn/pass_state.hpp>            // ctnn::max_aux_outputs
#include <ctnn/error.hpp>                 // ctnn::Error
#include <ctnn/rules/cross_entropy.hpp>   // ctnn::rules::cross_entropy_gradient, label_in_range

namespace ctnn {

namespace detail {
inline void check_classification(std::size_t logits, std::size_t labels, std::size_t classes, const char* subject) {
  if (classes == 0 || logits != labels * classes)
    throw Error(subject, std::to_string(logits) + " logits for " + std::to_string(labels) + " labels of " +
                             std::to_string(classes) + " classes");
}
// The first label outside [0, classes), named with its example, before anything is computed.
inline void check_labels(std::span<const std::int32_t> labels, std::size_t classes) {
  for (std::size_t n = 0; n < labels.size(); ++n)
    if (!rules::label_in_range(labels[n], static_cast<long long>(classes)))
      throw Error("cross_entropy", "label " + std::to_string(labels[n]) + " of example " + std::to_string(n) +
                                       " is outside [0, " + std::to_string(classes) + ")");
}
}  // namespace detail

// Mean softmax cross-entropy of `logits` [N, classes] against `labels`; when `dlogits` is not
// empty it receives gradient_scale * d(loss)/d(logits). Computed in double with the maximum
// logit subtracted, so large logits neither overflow nor lose the small probabilities.
template <class T>
T cross_entropy(std::span<const T> logits, std::span<const std::int32_t> labels, std::size_t classes,
                std::span<T> dlogits = {}, T gradient_scale = T(1)) {
  detail::check_classification(logits.size(), labels.size(), classes, "cross_entropy");
  if (labels.empty()) throw Error("cross_entropy", "needs at least one example");
  if (!dlogits.empty() && dlogits.size() != logits.size())
    throw Error("cross_entropy", "dlogits has " + std::to_string(dlogits.size()) + " values for " +
                                     std::to_string(logits.size()) + " logits");
  detail::check_labels(labels, classes);
  const std::size_t batch = labels.size();
  const double scale = static_cast<double>(gradient_scale) / static_cast<double>(batch);
  double total = 0;
  for (std::size_t n = 0; n < batch; ++n) {
    const std::int32_t label = labels[n];
    const T* z = logits.data() + n * classes;
    double top = z[0];
    for (std::size_t c = 1; c < classes; ++c) top = std::max(top, static_cast<double>(z[c]));
    double sum = 0;
    for (std::size_t c = 0; c < classes; ++c) sum += std::exp(static_cast<double>(z[c]) - top);
    const double log_sum = std::log(sum) + top;  // logsumexp(z)
    total += log_sum - static_cast<double>(z[label]);
    if (dlogits.empty()) continue;
    T* dz = dlogits.data() + n * classes;
    for (std::size_t c = 0; c < classes; ++c)
      dz[c] = static_cast<T>(rules::cross_entropy_gradient(static_cast<double>(z[c]) - log_sum,
                                                           c == static_cast<std::size_t>(label), scale));
  }
  return static_cast<T>(total / static_cast<double>(batch));
}

namespace detail {
// The class of the largest of `classes` logits from z (the first, on ties).
template <class T>
std::size_t largest_logit(const T* z, std::size_t classes) {
  std::size_t best = 0;
  for (std::size_t c = 1; c < classes; ++c)
    if (z[c] > z[best]) best = c;
  return best;
}
}  // namespace detail

// The predicted class of each example of `logits` [N, classes]: the index of its largest logit
// (the first, on ties), as PyTorch's logits.argmax(dim=1).
template <class T>
std::vector<std::int32_t> predicted_classes(std::span<const T> logits, std::size_t classes) {
  if (classes == 0 || logits.size() % classes != 0)
    throw Error("predicted_classes", std::to_string(logits.size()) + " logits are not a whole number of examples of " +
                                         std::to_string(classes) + " classes");
  std::vector<std::int32_t> predicted(logits.size() / classes);
  for (std::size_t n = 0; n < predicted.size(); ++n)
    predicted[n] = static_cast<std::int32_t>(detail::largest_logit(logits.data() + n * classes, classes));
  return predicted;
}

// Examples whose largest logit (the first, on ties) is at their label.
template <class T>
std::size_t count_correct(std::span<const T> logits, std::span<const std::int32_t> labels, std::size_t classes) {
  detail::check_classification(logits.size(), labels.size(), classes, "count_correct");
  std::size_t correct = 0;
  for (std::size_t n = 0; n < labels.size(); ++n)
    if (labels[n] >= 0 && detail::largest_logit(logits.data() + n * classes, classes) == static_cast<std::size_t>(labels[n]))
      ++correct;
  return correct;
}

// Fraction of examples classified correctly (top-1), in [0, 1].
template <class T>
double top1_accuracy(std::span<const T> logits, std::span<const std::int32_t> labels, std::size_t classes) {
  if (labels.empty()) return 0.0;
  return static_cast<double>(count_correct(logits, labels, classes)) / static_cast<double>(labels.size());
}

// The losses of one training step.
template <class T>
struct ClassificationLoss {
  T total = 0;                            // main + aux_weight * sum of aux
  T main = 0;                             // cross-entropy of the main output
  std::array<T, max_aux_outputs> aux{};   // of each auxiliary output, in forward order
  std::size_t aux_count = 0;

  // Counts in the loss of output k (0: the main output, k > 0: auxiliary output k - 1), in the
  // order k = 0, 1, ...; both objectives (CPU and GPU) add them up here.
  void add_output(std::size_t k, T loss, T aux_weight) {
    if (k == 0) {
      main = loss;
      total = loss;
      return;
    }
    aux[k - 1] = loss;
    aux_count = k;
    total += aux_weight * loss;
  }
};

// What every device's objective is: the weight of the auxiliary losses, 0.3 as in GoogLeNet.
template <class T>
class AuxWeighted {
 public:
  explicit AuxWeighted(T aux_weight = T(0.3)) : aux_weight_(aux_weight) {}
  T aux_weight() const { return aux_weight_; }

 protected:
  T aux_weight_;
};

// GoogLeNet's training objective (and any classifier's: without auxiliary outputs it is plain
// cross-entropy): loss = CE(main) + aux_weight * sum_k CE(aux_k), as the reference training
// script's loss0 + 0.3 * loss1 + 0.3 * loss2. It keeps the gradient buffers, so after the first
// step it allocates nothing. (The GPU's: ctnn/cuda/loss.hpp.)
template <class T>
class ClassificationObjective : public AuxWeighted<T> {
 public:
  using AuxWeighted<T>::AuxWeighted;

  // The losses of the model's last forward (training mode: outputs and auxiliary outputs).
  template <class Model>
  ClassificationLoss<T> evaluate(const Model& model, std::span<const std::int32_t> labels) {
    return compute<false>(model, labels);
  }

  // The losses, and model.backward() with their gradients: afterwards model.gradients() holds
  // d(total)/d(parameters). Needs the last forward in training mode.
  template <class Model>
  ClassificationLoss<T> backward(Model& model, std::span<const std::int32_t> labels) {
    const ClassificationLoss<T> loss = compute<true>(model, labels);
    std::array<std::span<const T>, max_aux_outputs> aux{};
    for (std::size_t k = 0; k < loss.aux_count; ++k) aux[k] = aux_gradients_[k];
    model.backward(main_gradient_, std::span<const std::span<const T>>(aux.data(), loss.aux_count));
    return loss;
  }

 private:
  template <bool WithGradients, class Model>
  ClassificationLoss<T> compute(const Model& model, std::span<const std::int32_t> labels) {
    constexpr std::size_t classes = Model::output_shape::size;
    ClassificationLoss<T> loss;
    const std::span<const T> logits = model.output();
    std::span<T> main_gradient;
    if constexpr (WithGradients) {
      main_gradient_.resize(logits.size());
      main_gradient = main_gradient_;
    }
    loss.add_output(0, cross_entropy<T>(logits, labels, classes, main_gradient), this->aux_weight_);
    for (std::size_t k = 0; k < model.aux_output_count(); ++k) {
      const std::span<const T> aux = model.aux_output(k);
      const std::size_t aux_classes = labels.empty() ? 0 : aux.size() / labels.size();
      std::span<T> aux_gradient;
      if constexpr (WithGradients) {
        aux_gradients_[k].resize(aux.size());
        aux_gradient = aux_gradients_[k];
      }
      loss.add_output(k + 1, cross_entropy<T>(aux, labels, aux_classes, aux_gradient, this->aux_weight_),
                      this->aux_weight_);
    }
    return loss;
  }

  std::vector<T> main_gradient_;
  std::array<std::vector<T>, max_aux_outputs> aux_gradients_;
};

}  // namespace ctnn
