% rebase('base.tpl')
% inst = detail['instance']
<h1>{{inst['name']}} <small class="muted">{{inst['kind']}} · {{inst['program']}}</small></h1>
<p>
 Status: <b>{{inst['status'] or 'unknown'}}</b> ·
 heartbeat {{w.dur(inst['heartbeat_age']) + ' ago' if inst['heartbeat_age'] is not None else 'never'}} ·
 qBittorrent <span class="{{reach_class(inst['qbt_ok'])}}">{{reach_text(inst['qbt_ok'])}}</span> ·
 Arr <span class="{{reach_class(inst['arr_ok'])}}">{{reach_text(inst['arr_ok'])}}</span> ·
 {{pd['total']}} matching · the manager tracks {{inst['torrents']}}
 % if detail['pending_requests']:
 · {{detail['pending_requests']}} request(s) waiting for the manager
 % end
</p>
% lines = status_lines(inst)
% if lines:
<ul class="status">
% for line in lines:
  <li>{{line}}</li>
% end
</ul>
% end
% if inst['brake_engaged']:
<form method="post" action="/instances/{{quote(inst['name'])}}/brake/release" class="brake">
  <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="{{here}}">
  <b class="bad">Brake engaged</b> {{inst['brake_reason'] or ''}} <button type="submit">Release the brake</button>
</form>
% end
<form method="get" class="filters" action="/instances/{{quote(inst['name'])}}">
  <label>Name or hash <input type="search" name="q" value="{{tq.q or ''}}" id="torrent-search"></label>
  <label>Rule <select name="rule"><option value="">any</option>
  % for r, n in detail['facets']['rules'].items():
    <option value="{{r}}" {{'selected' if tq.rule == r else ''}}>{{r or '(none)'}} ({{n}})</option>
  % end
  </select></label>
  <label>State <select name="state"><option value="">any</option>
  % for st, n in detail['facets']['states'].items():
    <option value="{{st}}" {{'selected' if tq.state == st else ''}}>{{st or '(none)'}} ({{n}})</option>
  % end
  </select></label>
  <label>Per page <select name="per_page">
  % for n in (25, 50, 100, 200, 500):
    <option {{'selected' if tq.per_page == n else ''}}>{{n}}</option>
  % end
  </select></label>
  <input type="hidden" name="sort" value="{{tq.sort}}"><input type="hidden" name="order" value="{{tq.order}}">
  <button type="submit">Filter</button>
</form>
<table class="grid torrents">
<thead><tr>
% for key, label in (('name', 'Name'), ('state', 'State'), ('progress', 'Progress'), ('ratio', 'Ratio'), ('seeding_time', 'Seeding'), ('size', 'Size'), ('category', 'Category'), (None, 'Tags'), ('rule', 'Rule'), (None, 'Why')):
  % if key:
  <th><a href="{{sort_link(key)}}">{{label}}{{(' ▲' if tq.order == 'asc' else ' ▼') if tq.sort == key else ''}}</a></th>
  % else:
  <th>{{label}}</th>
  % end
% end
<th></th></tr></thead>
<tbody>
% for t in pd['items']:
<tr>
  <td class="name"><a href="/torrents/{{t['hash']}}">{{t['name']}}</a></td>
  <td>{{t['state'] or ''}}</td>
  <td>{{'%.1f %%' % (100 * t['progress']) if t['progress'] is not None else ''}}</td>
  <td>{{'%.2f' % t['ratio'] if t['ratio'] is not None else ''}}</td>
  <td>{{w.dur(t['seeding_time'])}}</td>
  <td>{{w.size(t['size'])}}</td>
  <td>{{t['category'] or ''}}</td>
  <td>{{', '.join(t['tags'])}}</td>
  <td><span class="rule" title="{{t['rule_words']}}">{{t['last_rule'] or ''}}</span></td>
  <td class="why">{{t['last_reason'] or t['rule_words']}}</td>
  <td>
    <form method="post" action="/instances/{{quote(inst['name'])}}/torrents/{{t['hash']}}/{{'unprotect' if t['protected'] else 'protect'}}" class="inline">
      <input type="hidden" name="csrf" value="{{csrf}}"><input type="hidden" name="next" value="{{here}}">
      <button type="submit" {{'disabled' if t['pending_request'] else ''}}>{{('Unprotect' if t['protected'] else 'Protect') if not t['pending_request'] else t['pending_request'] + ' pending'}}</button>
    </form>
  </td>
</tr>
% end
% if not pd['items']:
<tr><td colspan="11" class="muted">No torrent matches.</td></tr>
% end
</tbody>
</table>
<nav class="pager">
% if pd['page'] > 1:
<a href="{{page_link(pd['page'] - 1)}}">← Previous</a>
% end
<span>Page {{pd['page']}} of {{max(1, -(-pd['total'] // pd['per_page']))}}</span>
% if pd['page'] * pd['per_page'] < pd['total']:
<a href="{{page_link(pd['page'] + 1)}}">Next →</a>
% end
</nav>
