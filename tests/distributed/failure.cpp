// A process that fails ends every process of the job, with a non-zero exit status, soon: nobody
// waits for ever in a collective. Run under mpirun by tests/distributed/expect_failure:
//
//   distributed_failure throw   the last rank throws at step 3 (run_or_abort: message, MPI_Abort)
//   distributed_failure kill    the last rank kills itself with SIGKILL at step 3 (the launcher
//                               sees it and ends the others)
//
// The other processes are then inside synchronize_gradients(), waiting for the failed one.

#include <csignal>   // std::raise, SIGKILL
#include <string>    // std::string
#include <vector>    // std::vector

#include <ctnn/ctnn.hpp>                        // ctnn::Model, Sequential, Linear, ReLU
#include <ctnn/distributed/data_parallel.hpp>   // ctnn::distributed::DataParallel

#include "support.hpp"   // ctnn::test::random_images, random_labels

using namespace ctnn;

using Net = Sequential<Named<"fc1", Linear<64, 64>>, ReLU, Named<"fc2", Linear<64, 10>>>;

int main(int argc, char** argv) {
  distributed::Environment mpi(argc, argv);
  const distributed::Communicator world = distributed::Communicator::world();
  const std::string how = argc > 1 ? argv[1] : "";
  if (how != "throw" && how != "kill") world.abort(2, "usage: distributed_failure throw|kill");
  return distributed::run_or_abort(world, [&] {
    Model<Net, Features<64>> model;
    init::googlenet_seed(model, 1);
    model.train();
    distributed::DataParallel parallel(model, world);
    parallel.broadcast_model();
    ClassificationObjective<float> objective;
    const bool fails = world.rank() == world.size() - 1;
    for (std::size_t step = 0; step < 50; ++step) {
      if (fails && step == 3) {
        if (how == "kill") std::raise(SIGKILL);
        throw Error("injected failure", "rank " + std::to_string(world.rank()) + " throws at step 3");
      }
      model.forward(test::random_images(4, 64, step));
      objective.backward(model, test::random_labels(4, 10, step));
      parallel.synchronize_gradients();
    }
    return 0;  // not reached by any process: the failed one ends them all at step 3
  });
}
