"""Data-parallel training over MPI processes with ChainerMN (``mpiexec -n P python -m ...``).

Every process builds the same model and optimizer; :func:`multi_node_optimizer` copies rank 0's parameters
to every process and then averages the gradients of all processes before each update, and
:func:`shard_step` gives each process its own slice of the data stream, so ``P`` processes with batch ``B``
train like one process with batch ``P * B``. Only rank 0 writes files (:func:`is_root`).

Needs ``mpi4py`` and an MPI runtime (``apt-get install -y libopenmpi-dev openmpi-bin && pip install mpi4py``).
"""
from neuralcollage import _compat  # noqa: F401


class DistributedError(RuntimeError):
    """ChainerMN or MPI is not available."""


def create_communicator(name="naive"):
    """A ChainerMN communicator (``"naive"`` works on the CPU; ``"pure_nccl"`` needs GPUs and NCCL).

    Raises:
        DistributedError: mpi4py (or MPI itself) is missing.
    """
    try:
        import mpi4py.MPI  # noqa: F401
    except ImportError as exc:
        raise DistributedError(
            f"distributed training needs mpi4py and an MPI runtime ({exc}); install them with "
            "'apt-get install -y libopenmpi-dev openmpi-bin' and 'pip install mpi4py', then run under "
            "'mpiexec -n <processes> ...'") from None
    import chainermn
    return chainermn.create_communicator(name)


def multi_node_optimizer(optimizer, communicator, link):
    """Wrap ``optimizer`` so that each update uses the gradients averaged over all processes, set it up on
    ``link`` and copy rank 0's parameters to every process now.

    (ChainerMN's wrapper would otherwise spend its first ``update()`` on that copy, skipping one update at
    every start or resume.)
    """
    import chainermn
    opt = chainermn.create_multi_node_optimizer(optimizer, communicator)
    opt.setup(link)
    communicator.bcast_data(link)
    opt.is_changed(link)
    return opt


def shard_step(step, communicator):
    """The global data step that this process reads at its local ``step`` (``step * size + rank``)."""
    if communicator is None:
        return step
    return step * communicator.size + communicator.rank


def is_root(communicator):
    """True for a single process or the process of rank 0."""
    return communicator is None or communicator.rank == 0


def mean_over_processes(value, communicator):
    """The mean of a float over all processes (the value itself for a single process)."""
    if communicator is None:
        return float(value)
    return communicator.mpi_comm.allreduce(float(value)) / communicator.size


def agree(flag, communicator):
    """Rank 0's boolean ``flag`` on every process (e.g. to stop all processes at the same iteration)."""
    if communicator is None:
        return bool(flag)
    return bool(communicator.mpi_comm.bcast(bool(flag), root=0))


def barrier(communicator):
    """Wait for every process (no-op for a single process)."""
    if communicator is not None:
        communicator.mpi_comm.Barrier()
