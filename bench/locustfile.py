"""Locust's fastest user (FastHttpUser, geventhttpclient) hammering one URL, no waits."""

from locust import constant, task
from locust.contrib.fasthttp import FastHttpUser


class Hammer(FastHttpUser):
    wait_time = constant(0)

    @task
    def get(self) -> None:
        self.client.get("/")
