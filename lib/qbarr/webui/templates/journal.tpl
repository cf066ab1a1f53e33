% rebase('base.tpl')
<h1>Decision journal</h1>
<form method="get" action="/journal" class="filters">
  <label>Instance <select name="instance"><option value="">any</option>
  % for n in nav_instances:
    <option value="{{n}}" {{'selected' if jq.instance == n else ''}}>{{n}}</option>
  % end
  </select></label>
  <label>Rule <select name="rule"><option value="">any</option>
  % for r in choices['rules']:
    <option value="{{r}}" {{'selected' if jq.rule == r else ''}}>{{r}}</option>
  % end
  </select></label>
  <label>Action <select name="action"><option value="">any</option>
  % for a in choices['actions']:
    <option value="{{a}}" {{'selected' if jq.action == a else ''}}>{{a}}</option>
  % end
  </select></label>
  <label>Torrent <input type="search" name="torrent" value="{{jq.torrent or ''}}" placeholder="hash or name"></label>
  <label>Since <input type="datetime-local" name="since" value="{{since_text}}"></label>
  <label>Until <input type="datetime-local" name="until" value="{{until_text}}"></label>
  <button type="submit">Filter</button>
</form>
<table class="grid journal">
<thead><tr><th>When</th><th>Instance</th><th>Torrent</th><th>Rule</th><th>Reason</th><th>Actions</th></tr></thead>
<tbody>
% for d in pd['items']:
<tr>
  <td>{{w.when(d['at'])}}</td>
  <td>{{d['instance']}}</td>
  <td class="name"><a href="/torrents/{{d['hash']}}">{{d['name'] or d['hash']}}</a></td>
  <td><span class="rule" title="{{d['rule_words']}}">{{d['rule']}}</span>{{' (dry run)' if d['dry_run'] else ''}}</td>
  <td class="why">{{d['reason']}}</td>
  <td>
  % for a in d['actions']:
    <span class="action action-{{a['status']}}">{{a['kind']}}: {{a['status']}}</span>
  % end
  </td>
</tr>
% end
% if not pd['items']:
<tr><td colspan="6" class="muted">No decision matches.</td></tr>
% end
</tbody>
</table>
<nav class="pager">
% if pd['next_before_id']:
<a href="{{older_link}}">Older →</a>
% end
</nav>
