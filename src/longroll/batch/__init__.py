"""Scale-out: batch generation and evaluation over prompt files, on one process, torchrun or Ray.

``items`` (prompt files -> (prompt, seed) work items, seeds, VBench file names), ``manifest``
(the folder's records), ``runner`` (job protocol, sharding, local backend, summary),
``distributed`` (torchrun), ``ray_backend`` (Ray actors with retries), ``generation`` and
``evaluation`` (the two jobs).
"""
