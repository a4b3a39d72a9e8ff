"""A post and its comments (no migrations: the test database is made from the models)."""

from __future__ import annotations

from django.db import models


class Post(models.Model):
    title = models.CharField(max_length=100)

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    email = models.EmailField()
    text = models.TextField()

    def __str__(self) -> str:
        return f"{self.email} on {self.post_id}"
