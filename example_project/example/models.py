"""Comments by email: a post, and the comments its readers send by replying to its notification
(``mailboxes.py`` turns each reply into a ``Comment``; ``posts.py`` publishes and notifies)."""

from __future__ import annotations

from django.db import models

#: The longest address a mail system carries (RFC 5321's path limit, less its brackets).
EMAIL_LENGTH = 254


class Post(models.Model):
    title = models.CharField(max_length=200)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return self.title


class Comment(models.Model):
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="comments")
    #: Who replied: the sender's address, as the inbound mail gave it (anyone can claim any
    #: From; the signed reply address, not this, is what makes a reply one to this post).
    email = models.EmailField(max_length=EMAIL_LENGTH)
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{self.email} on {self.post}"
