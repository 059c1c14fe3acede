#pragma once
// ctnn::Model<Net, In, float, OneDnn>: the model front end (ctnn/model.hpp) on the oneDNN device,
// with the CPU's thread count and dropout generator and the precision it computes in.
//
//   ctnn::Model<ctnn::GoogLeNet<1000, false>, ctnn::Shape<3, 224, 224>, float, ctnn::OneDnn> model;
//   model.set_precision(ctnn::onednn::Precision::bf16);   // plans again at the next forward
//   if (!model.precision_note().empty()) std::fprintf(stderr, "%s\n", model.precision_note().c_str());

#include <cstdint>   // std::uint64_t
#include <random>    // std::mt19937_64
#include <string>    // std::string

#include <ctnn/model.hpp>            // ctnn::ModelFrontEnd, ctnn::Model
#include <ctnn/onednn/backend.hpp>   // ctnn::Backend<OneDnn, T>
#include <ctnn/onednn/device.hpp>    // ctnn::OneDnn, ctnn::onednn::Precision

namespace ctnn {

template <class Net, ShapeType In, class T>
class Model<Net, In, T, OneDnn> : public ModelFrontEnd<Net, In, T, OneDnn> {
 public:
  Model() = default;

  // OpenMP threads used by oneDNN and the Eigen evaluators (default: omp_get_max_threads()).
  void set_threads(int threads) {
    this->backend_.set_threads(threads);
    this->invalidate_plan();  // primitives are made for a thread count
  }
  int threads() const { return this->context().threads; }
  void seed(std::uint64_t seed) { this->context().generator.seed(seed); }
  std::mt19937_64& generator() { return this->context().generator; }

  // The precision of the next passes: bf16 where the processor has AVX512-BF16 or AMX, otherwise
  // f32 with precision_note() saying why. Returns the precision in use.
  onednn::Precision set_precision(onednn::Precision precision) { return this->backend_.set_precision(precision); }
  onednn::Precision precision() const { return this->backend_.precision(); }
  const std::string& precision_note() const { return this->backend_.note(); }
};

}  // namespace ctnn
