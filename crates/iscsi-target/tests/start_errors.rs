//! Server::start fails with a StartError that names what failed and keeps
//! the underlying error as its source.

use std::error::Error as _;

use iscsi_target::config::Config;
use iscsi_target::server::{Server, StartError};

#[tokio::test]
async fn a_missing_directory_names_the_lun_and_keeps_the_backend_error() {
    let text = "[[portal]]\naddress = \"127.0.0.1:0\"\n\n[[target]]\nname = \"iqn.2026-11.rs.iscsi:t\"\n\n[[target.lun]]\nid = 3\nbacking = \"file\"\npath = \"/nonexistent/dir/disk.img\"\nsize = \"1M\"\n";
    let config = Config::parse(text, "t.toml").unwrap();
    let Err(e) = Server::start(config).await else {
        panic!("a file LUN in a missing directory started")
    };
    assert!(
        matches!(&e, StartError::Backend { target, lun: 3, .. } if target == "iqn.2026-11.rs.iscsi:t"),
        "{e:?}"
    );
    assert!(
        e.to_string()
            .starts_with("target iqn.2026-11.rs.iscsi:t LUN 3: "),
        "{e}"
    );
    let source = e.source().expect("the backend error is the source");
    assert!(source.is::<iscsi_scsi::BackendError>(), "{source:?}");
}

#[tokio::test]
async fn a_taken_port_keeps_the_os_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let text = format!(
        "[[portal]]\naddress = \"127.0.0.1:{port}\"\n\n[[target]]\nname = \"iqn.2026-11.rs.iscsi:t\"\n\n[[target.lun]]\nid = 0\nbacking = \"memory\"\nsize = \"1M\"\n"
    );
    let config = Config::parse(&text, "t.toml").unwrap();
    let Err(e) = Server::start(config).await else {
        panic!("a taken port was bound")
    };
    assert!(matches!(&e, StartError::Listen { .. }), "{e:?}");
    let source = e
        .source()
        .and_then(|s| s.downcast_ref::<std::io::Error>())
        .unwrap();
    assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
}
