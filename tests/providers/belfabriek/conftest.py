"""A Belfabriek simulator on loopback for the client and simulator tests, reset before each test."""
from __future__ import annotations

from dataclasses import dataclass

import pytest
from starlette.applications import Starlette

from pipelines.providers.belfabriek.simulator import AnswerShape, BelfabriekData, Counters, build_simulator
from pipelines.simulation import SimState, SimulatorServer

HASH = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
CUSTOMER = "100234"
ACCOUNT = "acct"


@dataclass
class Sim:
    url: str
    state: SimState
    counters: Counters
    data: BelfabriekData
    app: Starlette

    def answer(self, **shape) -> None:
        """Write answers in another AnswerShape until the test ends."""
        self.app.state.answer = AnswerShape(**shape)

    def requests(self) -> int:
        return self.state.requests_served


@pytest.fixture(scope="module")
def belfabriek_server():
    data = BelfabriekData()
    app = build_simulator({(HASH, CUSTOMER): ACCOUNT}, data, SimState())
    with SimulatorServer(app) as server:
        yield Sim(server.url, app.state.sim, app.state.counters, data, app)


@pytest.fixture
def sim(belfabriek_server) -> Sim:
    belfabriek_server.state.reset()
    belfabriek_server.counters.errors.clear()
    yield belfabriek_server
    belfabriek_server.state.reset()
    belfabriek_server.answer()
