#pragma once
// ctnn::train (CMake target ctnn::train): the training loop with its checkpoints, metrics and
// plots. ctnn::io and ctnn::data plus zlib (checkpoint checksums) and stb (PNG plots).
//
//   #include <ctnn/ctnn.hpp>
//   #include <ctnn/train.hpp>   // this, <ctnn/io.hpp> and <ctnn/data.hpp>
//   ctnn::train::Trainer trainer(model, train_set, test_set, options);   // then trainer.run(stop)

#include <ctnn/data.hpp>   // ctnn::data::*
#include <ctnn/io.hpp>     // ctnn::load_weights, ctnn::save_weights

#include <ctnn/train/checkpoint.hpp>   // ctnn::train::save_checkpoint, load_checkpoint, TrainingState
#include <ctnn/train/parallel.hpp>     // ctnn::train::DataParallelism
#include <ctnn/train/plot.hpp>         // ctnn::train::plot_panels, write_png
#include <ctnn/train/progress.hpp>     // ctnn::train::ProgressBar
#include <ctnn/train/trainer.hpp>      // ctnn::train::Trainer, TrainerOptions, RunResult
