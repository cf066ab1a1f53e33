"""app/preferences as qbittorrent-nox 4.5.2 answers it (174 keys, captured live), with
the renames and additions of 5.x; the simulator overrides paths and ports."""

from __future__ import annotations

import copy
import json
from typing import Any

from .config import ApiMode

# captured from qbittorrent-nox 4.5.2 (Debian 12) on a loopback profile (qbarr.qbittorrent.nox)
PREFS_452 = json.loads(r"""
{"add_trackers": "", "add_trackers_enabled": false, "alt_dl_limit": 10240, "alt_up_limit": 10240,
 "alternative_webui_enabled": false, "alternative_webui_path": "", "announce_ip": "",
 "announce_to_all_tiers": true, "announce_to_all_trackers": false, "anonymous_mode": false,
 "async_io_threads": 10, "auto_delete_mode": 0, "auto_tmm_enabled": false,
 "autorun_enabled": false, "autorun_on_torrent_added_enabled": false,
 "autorun_on_torrent_added_program": "", "autorun_program": "", "banned_IPs": "",
 "bittorrent_protocol": 0, "block_peers_on_privileged_ports": false,
 "bypass_auth_subnet_whitelist": "", "bypass_auth_subnet_whitelist_enabled": false,
 "bypass_local_auth": false, "category_changed_tmm_enabled": false, "checking_memory_use": 32,
 "connection_speed": 30, "current_interface_address": "", "current_network_interface": "",
 "dht": true, "disk_cache": -1, "disk_cache_ttl": 60, "disk_io_read_mode": 1, "disk_io_type": 0,
 "disk_io_write_mode": 1, "disk_queue_size": 1048576, "dl_limit": 0,
 "dont_count_slow_torrents": false, "dyndns_domain": "changeme.dyndns.org",
 "dyndns_enabled": false, "dyndns_password": "", "dyndns_service": 0, "dyndns_username": "",
 "embedded_tracker_port": 9000, "embedded_tracker_port_forwarding": false,
 "enable_coalesce_read_write": false, "enable_embedded_tracker": false,
 "enable_multi_connections_from_same_ip": false, "enable_piece_extent_affinity": false,
 "enable_upload_suggestions": false, "encryption": 0, "excluded_file_names": "",
 "excluded_file_names_enabled": false, "export_dir": "", "export_dir_fin": "",
 "file_pool_size": 5000, "hashing_threads": 1, "idn_support_enabled": false,
 "incomplete_files_ext": false, "ip_filter_enabled": false, "ip_filter_path": "",
 "ip_filter_trackers": false, "limit_lan_peers": true, "limit_tcp_overhead": false,
 "limit_utp_rate": true, "listen_port": 6881, "locale": "en", "lsd": true,
 "mail_notification_auth_enabled": false, "mail_notification_email": "",
 "mail_notification_enabled": false, "mail_notification_password": "",
 "mail_notification_sender": "qBittorrent_notification@example.com",
 "mail_notification_smtp": "smtp.changeme.com", "mail_notification_ssl_enabled": false,
 "mail_notification_username": "", "max_active_checking_torrents": 1,
 "max_active_downloads": 3, "max_active_torrents": 5, "max_active_uploads": 3,
 "max_concurrent_http_announces": 50, "max_connec": 500, "max_connec_per_torrent": 100,
 "max_ratio": -1, "max_ratio_act": 0, "max_ratio_enabled": false, "max_seeding_time": -1,
 "max_seeding_time_enabled": false, "max_uploads": 20, "max_uploads_per_torrent": 4,
 "memory_working_set_limit": 512, "outgoing_ports_max": 0, "outgoing_ports_min": 0,
 "peer_tos": 4, "peer_turnover": 4, "peer_turnover_cutoff": 90, "peer_turnover_interval": 300,
 "performance_warning": false, "pex": true, "preallocate_all": false,
 "proxy_auth_enabled": false, "proxy_hostname_lookup": true, "proxy_ip": "0.0.0.0",
 "proxy_password": "", "proxy_peer_connections": false, "proxy_port": 8080,
 "proxy_torrents_only": false, "proxy_type": 0, "proxy_username": "",
 "queueing_enabled": false, "random_port": false, "reannounce_when_address_changed": false,
 "recheck_completed_torrents": false, "refresh_interval": 1500, "request_queue_size": 500,
 "resolve_peer_countries": false, "resume_data_storage_type": "Legacy",
 "rss_auto_downloading_enabled": false, "rss_download_repack_proper_episodes": true,
 "rss_max_articles_per_feed": 50, "rss_processing_enabled": false, "rss_refresh_interval": 30,
 "save_path": "/downloads", "save_path_changed_tmm_enabled": false,
 "save_resume_data_interval": 60, "scan_dirs": {}, "schedule_from_hour": 8,
 "schedule_from_min": 0, "schedule_to_hour": 20, "schedule_to_min": 0, "scheduler_days": 0,
 "scheduler_enabled": false, "send_buffer_low_watermark": 10, "send_buffer_watermark": 500,
 "send_buffer_watermark_factor": 50, "slow_torrent_dl_rate_threshold": 2,
 "slow_torrent_inactive_timer": 60, "slow_torrent_ul_rate_threshold": 2,
 "socket_backlog_size": 30, "ssrf_mitigation": true, "start_paused_enabled": false,
 "stop_tracker_timeout": 5, "temp_path": "/downloads/temp", "temp_path_enabled": false,
 "torrent_changed_tmm_enabled": true, "torrent_content_layout": "Original",
 "torrent_stop_condition": "None", "up_limit": 0, "upload_choking_algorithm": 1,
 "upload_slots_behavior": 0, "upnp": false, "upnp_lease_duration": 0,
 "use_category_paths_in_manual_mode": false, "use_https": false, "utp_tcp_mixed_mode": 0,
 "validate_https_tracker_certificate": true, "web_ui_address": "*", "web_ui_ban_duration": 3600,
 "web_ui_clickjacking_protection_enabled": true, "web_ui_csrf_protection_enabled": true,
 "web_ui_custom_http_headers": "", "web_ui_domain_list": "*",
 "web_ui_host_header_validation_enabled": true, "web_ui_https_cert_path": "",
 "web_ui_https_key_path": "", "web_ui_max_auth_fail_count": 5, "web_ui_port": 8080,
 "web_ui_reverse_proxies_list": "", "web_ui_reverse_proxy_enabled": false,
 "web_ui_secure_cookie_enabled": true, "web_ui_session_timeout": 3600, "web_ui_upnp": false,
 "web_ui_use_custom_http_headers_enabled": false, "web_ui_username": "admin"}
""")
PREFS_452["rss_smart_episode_filters"] = "\n".join(
    [
        r"s(\d+)e(\d+)",
        r"(\d+)x(\d+)",
        r"(\d{4}[.\-]\d{1,2}[.\-]\d{1,2})",
        r"(\d{1,2}[.\-]\d{1,2}[.\-]\d{4})",
    ]
)

_ADDED_50 = {
    "add_to_top_of_queue": False,
    "delete_torrent_content_files": False,
    "torrent_content_remove_option": "Delete",
    "max_inactive_seeding_time": -1,
    "max_inactive_seeding_time_enabled": False,
    "merge_trackers": False,
    "use_subcategories": False,
    "use_unwanted_folder": False,
    "proxy_bittorrent": True,
    "proxy_misc": True,
    "proxy_rss": True,
    "ssl_enabled": False,
    "ssl_listen_port": 0,
    "app_instance_name": "",
    "current_interface_name": "",
    "torrent_file_size_limit": 104857600,
}
_ADDED_51 = {
    "add_trackers_from_url_enabled": False,
    "add_trackers_url": "",
    "add_trackers_url_list": "",
    "announce_port": 0,
    "confirm_torrent_deletion": True,
    "confirm_torrent_recheck": True,
    "ignore_ssl_errors": False,
    "save_statistics_interval": 15,
    "status_bar_external_ip": False,
}


def default_preferences(
    api: ApiMode, *, save_path: str, port: int, username: str, refresh_ms: int, max_auth_fail: int
) -> dict[str, Any]:
    prefs = copy.deepcopy(PREFS_452)
    prefs.update(
        save_path=save_path,
        temp_path=save_path.rstrip("/") + "/temp",
        web_ui_port=port,
        web_ui_username=username,
        refresh_interval=refresh_ms,
        web_ui_max_auth_fail_count=max_auth_fail,
    )
    version = api.webapi_tuple
    if version >= (2, 9, 2):
        prefs.update(max_inactive_seeding_time=-1, max_inactive_seeding_time_enabled=False)
    if version >= (2, 11, 0):
        prefs["add_stopped_enabled"] = prefs.pop("start_paused_enabled")
        prefs.pop("proxy_torrents_only", None)
        prefs.update(_ADDED_50)
    if version >= (2, 11, 3):
        prefs.update(_ADDED_51)
    return prefs
