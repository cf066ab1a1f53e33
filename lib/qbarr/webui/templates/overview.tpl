% rebase('base.tpl')
<h1>Overview</h1>
<section>
<h2>Instances</h2>
<table class="grid">
<thead><tr><th>Instance</th><th>Kind</th><th>Status</th><th>qBittorrent</th><th>Client</th><th>Arr</th><th>Heartbeat</th><th>Torrents</th><th>Brake</th><th>Last error</th></tr></thead>
<tbody>
% for i in data['instances']:
<tr>
  <td><a href="/instances/{{quote(i['name'])}}">{{i['name']}}</a></td>
  <td>{{i['kind']}}</td>
  <td>{{i['status'] or ''}}{{(' (' + i['waiting'] + ')') if i.get('waiting') else ''}}</td>
  <td class="{{reach_class(i['qbt_ok'])}}">{{reach_text(i['qbt_ok'])}}</td>
  <td>{{i['client'] or ''}}</td>
  <td class="{{reach_class(i['arr_ok'])}}">{{reach_text(i['arr_ok'])}}</td>
  <td>{{w.dur(i['heartbeat_age'])}}{{' ago' if i['heartbeat_age'] is not None else 'never'}}</td>
  <td>{{i['torrents']}}</td>
  <td>{{'ENGAGED' if i['brake_engaged'] else 'off'}}</td>
  <td class="clip">{{(w.dur(now - i['last_error_at']) + ' ago: ') if i['last_error'] and i.get('last_error_at') else ''}}{{i['last_error'] or ''}}</td>
</tr>
% end
% if not data['instances']:
<tr><td colspan="10" class="muted">No manager has reported yet.</td></tr>
% end
</tbody>
</table>
</section>
<section>
<h2>qBittorrents</h2>
<table class="grid" id="clients">
<thead><tr><th>Client</th><th>State</th><th>Version</th><th>Read by</th><th>Last poll</th><th>Torrents</th><th>Error</th></tr></thead>
<tbody>
% for c in data['clients']:
<tr>
  <td>{{c['client']}}</td>
  <td class="{{reach_class(c['up'])}}">{{reach_text(c['up'])}}</td>
  <td>{{c['version'] or ''}}</td>
  <td>{{c['reader'] or ''}}</td>
  <td>{{(w.dur(c['polled_age']) + ' ago') if c['polled_age'] is not None else 'never'}}</td>
  <td>{{c['torrents']}}</td>
  <td class="clip">{{c['error'] or ''}}</td>
</tr>
% end
% if not data['clients']:
<tr><td colspan="7" class="muted">No qBittorrent has been read yet.</td></tr>
% end
</tbody>
</table>
</section>
<section>
<h2>Notifications</h2>
% if notify_urls:
<form method="post" action="/notifications/test" class="notify-test">
  <input type="hidden" name="csrf" value="{{csrf}}">
  {{notify_urls}} URL(s) in [Notifications]. <button type="submit" id="notify-test">Send a test notification</button>
</form>
% if last_test:
<p id="notify-test-result">Test #{{last_test['id']}}: {{last_test['result'] or 'waiting for the notify program'}}</p>
% end
% else:
<p class="muted">No notification URL: set [Notifications] URLs (config.ini or the Config page).</p>
% end
</section>
<section class="charts">
<div>
<h2>Decisions per rule, last 24 h</h2>
{{!rule_chart}}
</div>
<div>
<h2>Imports and failures per hour</h2>
{{!hourly_chart}}
<p class="legend"><span class="sw ok"></span> imports <span class="sw bad"></span> failures ·
 last 24 h: {{sum(h['imports'] for h in data['hourly'])}} imports, {{sum(h['failures'] for h in data['hourly'])}} failures,
 {{sum(h['action_errors'] for h in data['hourly'])}} failed actions</p>
</div>
</section>
