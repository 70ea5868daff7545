/* Squall chat: live updates over WebSocket, falling back to long polling.
 *
 * The page arrives with the recent history rendered by the server and the
 * room's revision in data-cursor. From there the client asks for what
 * changed after its cursor: pushed over /ws, or by polling /updates.
 * Every change is a message (new, or with a link preview added); messages
 * are updated by id. User text only ever goes into the page through
 * textContent, never as HTML.
 */
(function () {
  "use strict";

  var room = document.getElementById("room");
  if (!room) {
    return;
  }
  var list = document.getElementById("messages");
  var form = document.getElementById("post");
  var input = document.getElementById("body");
  var errorBox = document.getElementById("error");
  var statusEl = document.getElementById("status");
  var me = room.getAttribute("data-user");
  var cursor = parseInt(room.getAttribute("data-cursor"), 10) || 0;
  var mode = room.getAttribute("data-transport") || "auto";
  var maxLength = parseInt(room.getAttribute("data-max-length"), 10) || 2000;

  var socket = null;
  var polling = false;
  var socketFailures = 0;
  var pollFailures = 0;
  var nextRef = 1;
  var sent = {};

  var URL_RE = /https?:\/\/[^\s<>"']+/gi;
  var TRAILING = /[.,;:!?)\]}'"]+$/;

  function setStatus(text, kind) {
    statusEl.textContent = text;
    statusEl.className = "status-" + kind;
    room.setAttribute("data-live", kind);
  }

  function showError(text) {
    errorBox.textContent = text || "";
    errorBox.hidden = !text;
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  }

  function xsrfToken() {
    var field = form.querySelector("input[name=_xsrf]");
    return field ? field.value : "";
  }

  // Text with its http(s) links made clickable, built from DOM nodes.
  function fillBody(element, text) {
    var last = 0;
    var match;
    URL_RE.lastIndex = 0;
    while ((match = URL_RE.exec(text)) !== null) {
      var url = match[0].replace(TRAILING, "");
      if (match.index > last) {
        element.appendChild(document.createTextNode(text.slice(last, match.index)));
      }
      var link = document.createElement("a");
      link.href = url;
      link.rel = "nofollow noopener noreferrer";
      link.target = "_blank";
      link.textContent = url;
      element.appendChild(link);
      last = match.index + url.length;
      URL_RE.lastIndex = last;
    }
    if (last < text.length) {
      element.appendChild(document.createTextNode(text.slice(last)));
    }
  }

  function build(m) {
    var item = document.createElement("li");
    item.className = "message" + (m.author === me ? " mine" : "");
    item.setAttribute("data-id", String(m.id));
    item.setAttribute("data-rev", String(m.rev));
    var meta = document.createElement("div");
    meta.className = "meta";
    var author = document.createElement("span");
    author.className = "author";
    author.textContent = m.author;
    var time = document.createElement("time");
    time.setAttribute("data-created", String(m.created));
    time.textContent = clock(m.created);
    meta.appendChild(author);
    meta.appendChild(document.createTextNode(" "));
    meta.appendChild(time);
    var body = document.createElement("div");
    body.className = "body";
    fillBody(body, m.body);
    item.appendChild(meta);
    item.appendChild(body);
    if (m.preview && /^https?:\/\//i.test(m.preview.url)) {
      var preview = document.createElement("a");
      preview.className = "preview";
      preview.href = m.preview.url;
      preview.rel = "nofollow noopener noreferrer";
      preview.target = "_blank";
      preview.textContent = m.preview.title;
      item.appendChild(preview);
    }
    return item;
  }

  function nearBottom() {
    return list.scrollHeight - list.scrollTop - list.clientHeight < 80;
  }

  // Insert or update a message, keeping the list in id order.
  function show(m) {
    var stick = nearBottom();
    var empty = list.querySelector(".empty");
    if (empty) {
      empty.remove();
    }
    var existing = list.querySelector('li[data-id="' + m.id + '"]');
    if (existing) {
      if (parseInt(existing.getAttribute("data-rev"), 10) >= m.rev) {
        return;
      }
      list.replaceChild(build(m), existing);
      return;
    }
    var item = build(m);
    var after = list.lastElementChild;
    while (after && parseInt(after.getAttribute("data-id"), 10) > m.id) {
      after = after.previousElementSibling;
    }
    list.insertBefore(item, after ? after.nextSibling : list.firstChild);
    if (stick) {
      list.scrollTop = list.scrollHeight;
    }
  }

  function apply(data) {
    if (data.reset) {
      window.location.reload();
      return;
    }
    (data.messages || []).forEach(show);
    if (typeof data.cursor === "number" && data.cursor > cursor) {
      cursor = data.cursor;
    }
  }

  // -- WebSocket ---------------------------------------------------------------

  function connectSocket() {
    if (!("WebSocket" in window)) {
      startPolling();
      return;
    }
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var ws = new WebSocket(scheme + window.location.host + "/ws?cursor=" + cursor);
    var opened = false;
    ws.onopen = function () {
      opened = true;
      socket = ws;
      socketFailures = 0;
      setStatus("live · WebSocket", "websocket");
    };
    ws.onmessage = function (event) {
      var data;
      try {
        data = JSON.parse(event.data);
      } catch (e) {
        return;
      }
      if (data.type === "messages" || data.type === "reset") {
        apply(data.type === "reset" ? { reset: true } : data);
      } else if (data.type === "posted") {
        delete sent[data.ref];
      } else if (data.type === "error") {
        showError(data.message);
        if (data.ref && sent[data.ref] !== undefined && !input.value) {
          input.value = sent[data.ref];
        }
        delete sent[data.ref];
      }
    };
    ws.onclose = function (event) {
      socket = null;
      if (event.code === 1008) {
        window.location.href = "/signin?next=/";
        return;
      }
      if (!opened) {
        socketFailures += 1;
      }
      if (socketFailures >= 2 && mode !== "websocket") {
        startPolling();  // WebSocket does not get through: fall back
        return;
      }
      setStatus("reconnecting…", "offline");
      window.setTimeout(connectSocket, Math.min(10000, 500 * Math.pow(2, socketFailures)));
    };
  }

  // -- long polling ------------------------------------------------------------

  function startPolling() {
    if (polling) {
      return;
    }
    polling = true;
    setStatus("live · long polling", "poll");
    poll();
  }

  function poll() {
    fetch("/updates?cursor=" + cursor, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
      cache: "no-store"
    }).then(function (response) {
      if (response.status === 403) {
        window.location.href = "/signin?next=/";
        throw new Error("signed out");
      }
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    }).then(function (data) {
      pollFailures = 0;
      setStatus("live · long polling", "poll");
      apply(data);
      poll();
    }).catch(function () {
      pollFailures += 1;
      setStatus("reconnecting…", "offline");
      window.setTimeout(poll, Math.min(30000, 500 * Math.pow(2, pollFailures)));
    });
  }

  // -- posting -----------------------------------------------------------------

  function postOverHttp(text) {
    var body = new URLSearchParams();
    body.set("body", text);
    return fetch("/message", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-XSRFToken": xsrfToken(), Accept: "application/json" },
      body: body
    }).then(function (response) {
      return response.json().catch(function () {
        return { error: "HTTP " + response.status };
      }).then(function (data) {
        if (!response.ok) {
          throw new Error(data.error || "HTTP " + response.status);
        }
        return data;
      });
    });
  }

  function send() {
    var text = input.value.trim();
    if (!text) {
      showError("The message is empty.");
      return;
    }
    if (text.length > maxLength) {
      showError("The message is too long (at most " + maxLength + " characters).");
      return;
    }
    showError("");
    if (socket && socket.readyState === WebSocket.OPEN) {
      var ref = String(nextRef++);
      sent[ref] = text;
      socket.send(JSON.stringify({ type: "post", body: text, ref: ref }));
      input.value = "";
      return;
    }
    postOverHttp(text).then(function (data) {
      input.value = "";
      show(data.message);
    }).catch(function (error) {
      showError(error.message);
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    send();
  });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey) {
      event.preventDefault();
      send();
    }
  });

  Array.prototype.forEach.call(document.querySelectorAll("time[data-created]"), function (t) {
    t.textContent = clock(parseFloat(t.getAttribute("data-created")));
  });
  list.scrollTop = list.scrollHeight;

  if (mode === "poll") {
    startPolling();
  } else {
    connectSocket();
  }
})();
