% rebase('base.tpl')
<h1>Programs</h1>
% if not data['supervisor']['ok']:
<p class="error" role="alert">{{data['supervisor']['error']}}</p>
% end
<table class="grid" id="programs">
<thead><tr><th>Program</th><th>State</th><th>PID</th><th>Uptime</th><th>Restarts</th><th>Last crash</th><th>Heartbeat</th><th>Cycle</th><th>Last error</th><th>Brake</th><th></th></tr></thead>
<tbody>
% for p in data['items']:
% m = p['instance'] or {}
<tr data-program="{{p['name']}}">
  <td><a href="/programs?log={{quote(p['name'])}}">{{p['name']}}</a></td>
  <td class="state state-{{p['state']}}" data-field="state">{{p['state']}}</td>
  <td data-field="pid">{{p['pid'] or ''}}</td>
  <td data-field="uptime">{{w.dur(p['uptime'])}}</td>
  <td>{{p['restarts']}}</td>
  <td>{{(p['last_crash']['event'] + ' ' + w.when(p['last_crash']['at'])) if p['last_crash'] else ''}}</td>
  <td>{{w.dur(m.get('heartbeat_age'))}}</td>
  <td>{{w.elapsed(m.get('cycle_s'))}}</td>
  <td class="clip">{{m.get('last_error') or ''}}</td>
  <td>
  % if m.get('brake_engaged'):
    <form method="post" action="/instances/{{quote(m['name'])}}/brake/release" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="/programs">
      <span class="bad" title="{{m.get('brake_reason') or ''}}">ENGAGED</span> <button type="submit">Release</button>
    </form>
  % elif m:
    off
  % end
  </td>
  <td class="buttons">
  % if p['name'] != 'webui':
  % for op in ('start', 'stop', 'restart'):
    <form method="post" action="/programs/{{quote(p['name'])}}/{{op}}" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit" name="op" value="{{op}}" data-op="{{op}}">{{op.capitalize()}}</button>
    </form>
  % end
  % end
  </td>
</tr>
% end
</tbody>
</table>
% if log_program:
<section class="log" id="log" data-program="{{log_program}}" data-offset="{{log['offset']}}" data-q="{{log_q or ''}}">
<h2>Log of {{log_program}}</h2>
<form method="get" action="/programs" class="filters">
  <input type="hidden" name="log" value="{{log_program}}">
  <label>Search <input type="search" name="q" value="{{log_q or ''}}"></label>
  <button type="submit">Search</button>
  <label><input type="checkbox" id="follow" checked> Follow</label>
</form>
<pre id="logtext">{{log['text']}}</pre>
</section>
% end
