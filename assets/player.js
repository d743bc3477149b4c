/* Sightline live-video player: fragmented MP4 over WebSocket into Media Source Extensions.
 *
 * Any <video data-stream="ws://.../streams/<id>/ws?..."> on the page is played (Dash loads
 * this file from assets/; a MutationObserver picks up panels added later). Optional
 * data-hls="http://.../index.m3u8?..." is used where MSE is missing (iOS Safari).
 * The element's parent shows messages in a .sl-video-message element (created if absent).
 * Keeps playback within ~0.3 s of the live edge (slight speed-up, or a jump when far behind),
 * shows "reconnecting" while the camera is away and resumes on its own when it returns.
 * No dependencies, no CDN.
 */
(function () {
  "use strict";

  var H265_MESSAGE =
    "This camera sends H.265 (HEVC), which this browser cannot play. " +
    "An administrator can enable server-side transcoding to H.264 " +
    "(SIGHTLINE_TRANSCODE_H265=true), or use a browser with HEVC support.";

  function messageBox(video) {
    var parent = video.parentElement || document.body;
    var box = parent.querySelector(".sl-video-message");
    if (!box) {
      box = document.createElement("div");
      box.className = "sl-video-message";
      parent.appendChild(box);
    }
    return box;
  }

  function Player(video, url, hlsUrl) {
    this.video = video;
    this.url = url;
    this.hlsUrl = hlsUrl;
    this.queue = [];
    this.mime = null;
    this.closed = false;
    this.retries = 0;
    this.box = messageBox(video);
    this.stats = { fragments: 0, bytes: 0, inits: 0, jumps: 0 };
  }

  Player.prototype.say = function (text, kind) {
    this.box.textContent = text || "";
    this.box.dataset.kind = kind || "";
    this.box.style.display = text ? "" : "none";
    this.video.dataset.state = kind || "playing";
  };

  Player.prototype.start = function () {
    var self = this;
    if (!window.MediaSource) {
      if (this.hlsUrl && this.video.canPlayType("application/vnd.apple.mpegurl")) {
        this.video.src = this.hlsUrl;
        this.video.play().catch(function () {});
        return;
      }
      this.say("This browser cannot play live video (no Media Source Extensions).", "error");
      return;
    }
    this.say("Connecting…", "connecting");
    var ws = new WebSocket(this.url);
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    ws.onmessage = function (ev) {
      if (typeof ev.data === "string") {
        self.control(JSON.parse(ev.data));
      } else {
        self.stats.fragments += 1;
        self.stats.bytes += ev.data.byteLength;
        self.queue.push(ev.data);
        self.pump();
      }
    };
    ws.onopen = function () {
      self.retries = 0;
    };
    ws.onclose = function (ev) {
      if (self.closed) return;
      if (ev.code === 4403) {
        // The gateway withdrew access (user disabled, token revoked, camera out of scope).
        self.closed = true;
        self.say("Access to this camera was withdrawn.", "error");
        return;
      }
      if (ev.code === 1006 && self.retries === 0 && !self.stats.fragments) {
        // Refused before upgrading: bad or expired link.
        self.say("Cannot open this stream (link expired or not allowed). Click the camera again.",
                 "error");
        return;
      }
      self.retries += 1;
      self.say("Connection lost — reconnecting…", "reconnecting");
      setTimeout(function () { if (!self.closed) self.restart(); }, Math.min(8000, 500 * self.retries));
    };
  };

  Player.prototype.restart = function () {
    this.teardownMedia();
    this.start();
  };

  Player.prototype.control = function (msg) {
    if (msg.type === "init") {
      this.stats.inits += 1;
      if (!MediaSource.isTypeSupported(msg.mime)) {
        this.closed = true;
        if (this.ws) this.ws.close();
        this.say(msg.codec.indexOf("hvc1") === 0 || msg.codec.indexOf("hev1") === 0
          ? H265_MESSAGE : "This browser cannot play this camera's video (" + msg.codec + ").",
          "unsupported");
        return;
      }
      if (!this.ms) {
        this.openMedia(msg.mime);
      } else if (this.sb && msg.mime !== this.mime && this.sb.changeType) {
        this.sb.changeType(msg.mime);
      }
      this.mime = msg.mime;
    } else if (msg.type === "status") {
      if (msg.state === "reconnecting") this.say("Camera unreachable — reconnecting…", "reconnecting");
      else if (msg.state === "stopped" && msg.reason === "access") {
        this.closed = true;
        this.say("Access to this camera was withdrawn.", "error");
      } else if (msg.state === "stopped") this.say("Stream stopped.", "stopped");
    }
  };

  Player.prototype.openMedia = function (mime) {
    var self = this;
    var ms = new MediaSource();
    this.ms = ms;
    this.video.muted = true;
    this.video.src = URL.createObjectURL(ms);
    ms.addEventListener("sourceopen", function () {
      self.sb = ms.addSourceBuffer(mime);
      self.sb.mode = "segments";
      self.sb.addEventListener("updateend", function () { self.afterAppend(); self.pump(); });
      self.pump();
    }, { once: true });
  };

  Player.prototype.teardownMedia = function () {
    if (this.ws) { this.ws.onclose = null; this.ws.close(); }
    this.ws = null;
    this.queue = [];
    this.sb = null;
    this.ms = null;
    this.mime = null;
  };

  Player.prototype.pump = function () {
    if (!this.sb || this.sb.updating || !this.queue.length) return;
    try {
      this.sb.appendBuffer(this.queue.shift());
    } catch (e) {
      if (e.name === "QuotaExceededError") this.trim(true);
      else this.say("Playback error: " + e.message, "error");
    }
  };

  Player.prototype.afterAppend = function () {
    var v = this.video, b = v.buffered;
    if (!b.length) return;
    var end = b.end(b.length - 1);
    if (v.currentTime < b.start(0) || end - v.currentTime > 1.5) {
      v.currentTime = Math.max(b.start(b.length - 1), end - 0.2); // jump to the live edge
      this.stats.jumps += 1;
    }
    var lag = end - v.currentTime;
    v.playbackRate = lag > 0.5 ? 1.15 : (lag > 0.3 ? 1.05 : 1.0);
    if (v.paused) v.play().catch(function () {});
    if (this.video.dataset.state !== "playing") this.say("", "playing");
    if (this.stats.fragments % 50 === 0) this.trim(false);
  };

  Player.prototype.trim = function (hard) {
    var v = this.video, b = v.buffered;
    if (!this.sb || this.sb.updating || !b.length) return;
    var keep = hard ? 2 : 10;
    if (v.currentTime - b.start(0) > keep) this.sb.remove(b.start(0), v.currentTime - keep);
  };

  Player.prototype.close = function () {
    this.closed = true;
    this.teardownMedia();
  };

  var active = [];

  function attach(video) {
    if (video.sightlinePlayer || !video.dataset.stream) return video.sightlinePlayer;
    var p = new Player(video, video.dataset.stream, video.dataset.hls);
    video.sightlinePlayer = p;
    active.push(p);
    p.start();
    return p;
  }

  function scan(root) {
    // Panels taken off the page close their stream (the gateway then stops the pull).
    active = active.filter(function (p) {
      if (document.contains(p.video)) return true;
      p.close();
      return false;
    });
    var vids = (root.querySelectorAll ? root : document).querySelectorAll("video[data-stream]");
    for (var i = 0; i < vids.length; i++) {
      var v = vids[i];
      // A panel re-rendered with a new URL: replace its player.
      if (v.sightlinePlayer && v.sightlinePlayer.url !== v.dataset.stream) {
        v.sightlinePlayer.close();
        v.sightlinePlayer = null;
      }
      attach(v);
    }
  }

  window.SightlinePlayer = { attach: attach, scan: scan, Player: Player };
  function boot() {
    scan(document);
    new MutationObserver(function () { scan(document); }).observe(document.body, {
      childList: true, subtree: true, attributes: true, attributeFilter: ["data-stream"],
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
