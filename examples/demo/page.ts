/** The demo's chat page: one WebSocket per tab, rooms chosen in the form. */
export const chatPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>beamsock chat</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  body { font: 15px/1.4 system-ui, sans-serif; max-width: 42rem; margin: 2rem auto; padding: 0 1rem; color: #222; }
  h1 { font-size: 1.3rem; } form { display: flex; gap: .5rem; margin: .5rem 0; }
  input { flex: 1; padding: .4rem; } button { padding: .4rem .8rem; }
  #log { border: 1px solid #ccc; border-radius: 4px; height: 22rem; overflow-y: auto; padding: .5rem; background: #fafafa; }
  .join, .leave, .status { color: #777; font-style: italic; } .me { color: #0a58ca; }
  #status { font-size: .85rem; color: #555; }
</style>
</head>
<body>
<h1>beamsock chat</h1>
<p>Every tab is a WebSocket, and every WebSocket is a process on the server. Open a second tab in the same room.</p>
<form id="join">
  <input id="room" name="room" value="lobby" aria-label="room">
  <input id="username" name="username" aria-label="username">
  <button id="connect">Join</button>
</form>
<div id="status">not connected</div>
<div id="log" role="log"></div>
<form id="say">
  <input id="message" autocomplete="off" placeholder="say something" aria-label="message" disabled>
  <button id="send" disabled>Send</button>
</form>
<script>
  const $ = (id) => document.getElementById(id);
  $('username').value = 'guest' + Math.floor(Math.random() * 1000);
  let sock = null;
  function line(text, cls) {
    const div = document.createElement('div');
    div.textContent = text; if (cls) div.className = cls;
    $('log').appendChild(div); $('log').scrollTop = $('log').scrollHeight;
  }
  $('join').addEventListener('submit', (e) => {
    e.preventDefault();
    if (sock) sock.close(1000);
    const room = $('room').value || 'lobby', username = $('username').value || 'guest';
    const url = new URL('/chat', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('room', room); url.searchParams.set('username', username);
    sock = new WebSocket(url);
    sock.addEventListener('open', () => {
      $('status').textContent = 'connected to room ' + room + ' as ' + username;
      $('message').disabled = false; $('send').disabled = false; $('message').focus();
      document.body.dataset.connected = room;
    });
    sock.addEventListener('message', (ev) => {
      const m = JSON.parse(ev.data);
      if (m.type === 'chat') line(m.from + ': ' + m.content, m.from === username ? 'me' : 'chat');
      else if (m.type === 'join') line(m.from + ' joined', 'join');
      else if (m.type === 'leave') line(m.from + ' left', 'leave');
    });
    sock.addEventListener('close', (ev) => {
      $('status').textContent = 'disconnected (' + ev.code + ')';
      $('message').disabled = true; $('send').disabled = true;
      delete document.body.dataset.connected;
    });
  });
  $('say').addEventListener('submit', (e) => {
    e.preventDefault();
    const content = $('message').value;
    if (!content || !sock) return;
    sock.send(JSON.stringify({ type: 'chat', content }));
    $('message').value = '';
  });
</script>
</body>
</html>`;
