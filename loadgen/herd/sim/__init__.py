"""``herd sim``: a simulated autoscaling serverless endpoint (RunPod semantics), over real HTTP.

Layout: ``config`` (settings), ``autoscaler`` (pure scaling decision), ``workers`` (worker
lifecycle and pool), ``simulation`` (queue, dispatch, timeouts), ``record`` (ground truth),
``server`` (aiohttp routes and a run helper).
"""

from herd.sim.config import SimConfig
from herd.sim.server import SimServer, build_app, serve_until_signalled, start_server
from herd.sim.simulation import Simulation

__all__ = [
    "SimConfig",
    "SimServer",
    "Simulation",
    "build_app",
    "serve_until_signalled",
    "start_server",
]
