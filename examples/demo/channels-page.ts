/**
 * The Channels page: rooms over one Phoenix socket with the official `phoenix`
 * client, and who is online in the room from Presence. Sets
 * `body[data-joined]` to the room once joined, for tests.
 */
export const channelsPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>beamsock channels</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 2rem; max-width: 48rem; }
  main { display: flex; gap: 1.5rem; }
  #log { flex: 1; border: 1px solid #ccc; height: 20rem; overflow-y: auto; padding: .5rem; list-style: none; margin: 0; }
  #online { width: 12rem; border: 1px solid #ccc; padding: .5rem; list-style: none; margin: 0; }
  form { margin: 1rem 0; display: flex; gap: .5rem; }
</style>
</head>
<body>
<h1>Channels</h1>
<p>Phoenix Channels on beamsock, with the official <code>phoenix</code> client. <a href="/">The plain WebSocket chat</a></p>
<form id="join-form">
  <input id="room" placeholder="room" value="lobby" required>
  <input id="user" placeholder="your name" required>
  <button id="join">join</button>
</form>
<main>
  <ul id="log"></ul>
  <div><strong>Online</strong><ul id="online"></ul></div>
</main>
<form id="say-form"><input id="body" placeholder="message" autocomplete="off" disabled><button disabled id="send">send</button></form>
<script type="module">
import { Socket, Presence } from '/phoenix.mjs';

const socket = new Socket('/socket');
socket.connect();
let channel = null;
const log = document.getElementById('log');
const online = document.getElementById('online');
const line = (text) => {
  const li = document.createElement('li');
  li.textContent = text;
  log.append(li);
  log.scrollTop = log.scrollHeight;
};

document.getElementById('join-form').addEventListener('submit', (e) => {
  e.preventDefault();
  if (channel !== null) channel.leave();
  const room = document.getElementById('room').value.trim();
  const user = document.getElementById('user').value.trim();
  channel = socket.channel('room:' + room, { user });
  const presence = new Presence(channel);
  presence.onSync(() => {
    online.replaceChildren(...presence.list((name, { metas }) => {
      const li = document.createElement('li');
      li.textContent = metas.length > 1 ? name + ' (' + metas.length + ')' : name;
      return li;
    }));
  });
  channel.on('new_msg', ({ user, body }) => line(user + ': ' + body));
  channel.join()
    .receive('ok', () => {
      line('joined room:' + room + ' as ' + user);
      document.body.dataset.joined = room;
      for (const id of ['body', 'send']) document.getElementById(id).disabled = false;
    })
    .receive('error', ({ reason }) => line('join refused: ' + reason));
});

document.getElementById('say-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const input = document.getElementById('body');
  if (channel === null || input.value === '') return;
  channel.push('new_msg', { body: input.value });
  input.value = '';
});
</script>
</body>
</html>
`;
